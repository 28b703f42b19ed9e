package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// InboxEvent is one accepted DingTalk event.
type InboxEvent struct {
	CorpID    string         `db:"corp_id"`
	EventID   string         `db:"event_id"`
	Seq       int64          `db:"seq"`
	Type      string         `db:"event_type"`
	EventTime sql.NullTime   `db:"event_time"`
	UserIDs   pq.StringArray `db:"user_ids"`
	DeptIDs   pq.Int64Array  `db:"dept_ids"`
	// Instances are the approval instances the event names (a bpms_instance_change names one).
	Instances  ApprovalRefs `db:"instance_refs"`
	Source     string       `db:"source"`
	Status     string       `db:"status"`
	ReceivedAt time.Time    `db:"received_at"`
}

const insertEventSQL = `INSERT INTO inbox_events (corp_id, event_id, event_type, event_time, user_ids, dept_ids, source, instance_refs)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (corp_id, event_id) DO NOTHING`

// InsertEvent stores an accepted event; a duplicate (same event id) is dropped and reported
// with inserted=false.
func (s *Store) InsertEvent(ctx context.Context, e InboxEvent) (inserted bool, err error) {
	res, err := s.db.ExecContext(ctx, insertEventSQL, e.CorpID, e.EventID, e.Type, e.EventTime, e.UserIDs, e.DeptIDs, e.Source, e.Instances)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

const eventColumns = `corp_id, event_id, seq, event_type, event_time, user_ids, dept_ids, instance_refs, source, status, received_at`

// PendingEventIDs returns up to limit of the corp's pending events' ids, in arrival order.
func (s *Store) PendingEventIDs(ctx context.Context, corpID string, limit int) ([]string, error) {
	ids := []string{}
	err := s.db.SelectContext(ctx, &ids, `SELECT event_id FROM inbox_events
		WHERE corp_id = $1 AND status = 'pending' ORDER BY seq LIMIT $2`, corpID, limit)
	return ids, err
}

// EventsByID returns the named events of a corp, in arrival order.
func (s *Store) EventsByID(ctx context.Context, corpID string, ids []string) ([]InboxEvent, error) {
	events := []InboxEvent{}
	err := s.db.SelectContext(ctx, &events, `SELECT `+eventColumns+` FROM inbox_events
		WHERE corp_id = $1 AND event_id = ANY($2) ORDER BY seq`, corpID, pq.Array(ids))
	return events, err
}

// MarkEventsApplied records that a run applied the named events.
func (s *Store) MarkEventsApplied(ctx context.Context, corpID string, ids []string, runID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE inbox_events SET status = 'applied', applied_at = now(), run_id = $3
		WHERE corp_id = $1 AND event_id = ANY($2) AND status = 'pending'`, corpID, pq.Array(ids), runID)
	return err
}

// CorpsWithPendingEvents names the corps whose oldest pending event arrived before olderThan:
// their incremental workflow missed a signal (Temporal was down) and must be woken.
func (s *Store) CorpsWithPendingEvents(ctx context.Context, olderThan time.Time) ([]string, error) {
	corps := []string{}
	err := s.db.SelectContext(ctx, &corps, `SELECT DISTINCT corp_id FROM inbox_events
		WHERE status = 'pending' AND received_at < $1`, olderThan)
	return corps, err
}

// InboxBacklog counts pending events over all corps.
func (s *Store) InboxBacklog(ctx context.Context) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM inbox_events WHERE status = 'pending'`)
	return n, err
}

// FullSyncRunning reports whether a full sync of the corp is between start and apply, so
// incremental batches wait rather than apply state the full sync would then overwrite.
func (s *Store) FullSyncRunning(ctx context.Context, corpID string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM sync_runs WHERE corp_id = $1 AND kind IN ('full', 'repair')
		AND status IN ('running', 'awaiting_approval') AND applied_at IS NULL`, corpID)
	return n > 0, err
}

// RejoinedSince returns which of the users (userid → the time of the leave event a batch is
// about to apply) have an applied add, activate or modify event no older than that leave: a
// reordered push delivered the leave late, so DingTalk must be asked again.
func (s *Store) RejoinedSince(ctx context.Context, corpID string, leaves map[string]time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	for userID, at := range leaves {
		var n int
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND status = 'applied'
			AND event_type IN ('user_add_org', 'user_active_org', 'user_modify_org') AND $2 = ANY (user_ids) AND event_time >= $3`,
			corpID, userID, at); err != nil {
			return nil, err
		}
		out[userID] = n > 0
	}
	return out, nil
}

// InsertEvents stores a page of accepted events in one transaction, so a page is either
// stored whole or not at all; duplicates are dropped. It returns how many were new.
func (s *Store) InsertEvents(ctx context.Context, events []InboxEvent) (inserted int, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, e := range events {
			res, err := tx.ExecContext(ctx, insertEventSQL, e.CorpID, e.EventID, e.Type, e.EventTime, e.UserIDs, e.DeptIDs, e.Source, e.Instances)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			inserted += int(n)
		}
		return nil
	})
	return inserted, err
}

// BeginFailedPushDrain marks a drain of the corp's failed-push list as under way. It reports
// whether an earlier drain's mark was still set: that drain stopped before it finished, and
// events DingTalk handed it may never have reached the inbox.
func (s *Store) BeginFailedPushDrain(ctx context.Context, corpID string) (interrupted bool, err error) {
	err = s.db.GetContext(ctx, &interrupted, `WITH before AS (
			SELECT failed_push_drain_started_at AS started FROM bindings WHERE corp_id = $1 FOR UPDATE)
		UPDATE bindings SET failed_push_drain_started_at = now() FROM before
		WHERE corp_id = $1 RETURNING before.started IS NOT NULL`, corpID)
	return interrupted, err
}

// EndFailedPushDrain clears the mark BeginFailedPushDrain set: every page fetched is stored.
func (s *Store) EndFailedPushDrain(ctx context.Context, corpID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE bindings SET failed_push_drain_started_at = NULL WHERE corp_id = $1`, corpID)
	return err
}
