package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Event intakes: how a binding's DingTalk events reach the inbox.
const (
	// EventIntakeHTTP is DingTalk's encrypted HTTP push to the worker's callback URL.
	EventIntakeHTTP = "http"
	// EventIntakeStream is DingTalk's Stream mode: a WebSocket one worker holds per corp.
	EventIntakeStream = "stream"
)

const streamCorpsSQL = `SELECT corp_id FROM bindings WHERE event_intake = 'stream' AND status <> 'unbound' ORDER BY corp_id`

// StreamCorps names the corps whose events come by Stream mode (unbound ones excepted).
func (s *Store) StreamCorps(ctx context.Context) ([]string, error) {
	corps := []string{}
	err := s.db.SelectContext(ctx, &corps, streamCorpsSQL)
	return corps, err
}

// streamLockClass is the first key of the two-key advisory locks of Stream connections; the
// second is hashtext(corp id). Two-key locks never collide with goose's one-key lock.
const streamLockClass = 4_804_001

// SessionLocks is one dedicated Postgres session holding advisory locks, one per corp whose
// Stream connection this process holds. Postgres releases them when the session ends, so
// another worker can take over a corp whose holder died. Not safe for concurrent use.
type SessionLocks struct {
	conn *sql.Conn
}

// OpenSessionLocks takes a connection out of the pool for the session's lifetime.
func (s *Store) OpenSessionLocks(ctx context.Context) (*SessionLocks, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a session for stream locks: %w", err)
	}
	return &SessionLocks{conn: conn}, nil
}

const (
	tryStreamLockSQL = `SELECT pg_try_advisory_lock($1, hashtext($2))`
	streamUnlockSQL  = `SELECT pg_advisory_unlock($1, hashtext($2))`
)

// TryLock takes corpID's lock if no other session holds it. Locks are re-entrant within the
// session: call it once per corp held.
func (l *SessionLocks) TryLock(ctx context.Context, corpID string) (bool, error) {
	var ok bool
	err := l.conn.QueryRowContext(ctx, tryStreamLockSQL, streamLockClass, corpID).Scan(&ok)
	return ok, err
}

// Unlock releases corpID's lock.
func (l *SessionLocks) Unlock(ctx context.Context, corpID string) error {
	_, err := l.conn.ExecContext(ctx, streamUnlockSQL, streamLockClass, corpID)
	return err
}

// Ping checks that the session, and with it every lock it holds, is still alive.
func (l *SessionLocks) Ping(ctx context.Context) error {
	_, err := l.conn.ExecContext(ctx, `SELECT 1`)
	return err
}

// Close ends the session, releasing every lock it holds.
func (l *SessionLocks) Close() error {
	// Returned to the pool, the connection would keep its locks: close it for good.
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	if err := l.conn.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return err
	}
	return nil
}
