package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// OAuth state errors, each answered to the browser with its own page.
var (
	ErrStateUnknown = errors.New("this authorization link is not one dingsync issued (unknown state): start again with `starter authorize`")
	ErrStateUsed    = errors.New("this authorization link was already used: each link works once; start again with `starter authorize`")
	ErrStateExpired = errors.New("this authorization link has expired: start again with `starter authorize`")
)

// CreateOAuthState records a one-time state (by its hash) for an authorization workflow.
func (s *Store) CreateOAuthState(ctx context.Context, stateHash, corpID, workflowID string, expiresAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_states (state_hash, corp_id, workflow_id, expires_at)
		VALUES ($1, $2, $3, $4)`, stateHash, corpID, workflowID, expiresAt)
	return err
}

// OAuthRedirect is what a consumed state says about the waiting workflow.
type OAuthRedirect struct {
	CorpID     string `db:"corp_id"`
	WorkflowID string `db:"workflow_id"`
}

const consumeStateSQL = `UPDATE oauth_states SET used_at = now(), code_sealed = $2
	WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now()
	RETURNING corp_id, workflow_id`

// ConsumeOAuthState marks a state used and stores the sealed authorization code, then runs
// notify (which signals the workflow) before committing, so a state is consumed only if the
// workflow heard of it. It refuses unknown, used and expired states.
func (s *Store) ConsumeOAuthState(ctx context.Context, stateHash string, codeSealed []byte, notify func(OAuthRedirect) error) (OAuthRedirect, error) {
	var r OAuthRedirect
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &r, consumeStateSQL, stateHash, codeSealed)
		if errors.Is(err, sql.ErrNoRows) {
			return whyStateRefused(ctx, tx, stateHash)
		}
		if err != nil {
			return err
		}
		return notify(r)
	})
	return r, err
}

func whyStateRefused(ctx context.Context, tx *sqlx.Tx, stateHash string) error {
	var st struct {
		Used    bool `db:"used"`
		Expired bool `db:"expired"`
	}
	err := tx.GetContext(ctx, &st, `SELECT used_at IS NOT NULL AS used, expires_at <= now() AS expired
		FROM oauth_states WHERE state_hash = $1`, stateHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrStateUnknown
	case err != nil:
		return err
	case st.Used:
		return ErrStateUsed
	default:
		return ErrStateExpired
	}
}

// SealedAuthCode returns the sealed authorization code a redirect brought for a state.
func (s *Store) SealedAuthCode(ctx context.Context, stateHash string) ([]byte, error) {
	var code []byte
	err := s.db.GetContext(ctx, &code, `SELECT code_sealed FROM oauth_states WHERE state_hash = $1 AND code_sealed IS NOT NULL`, stateHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no authorization code was received for this state: start again with `starter authorize`")
	}
	return code, err
}

// RecordAuthorization records who authorized the corp's app and when; a pending binding
// becomes authorized.
func (s *Store) RecordAuthorization(ctx context.Context, corpID, by string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bindings SET authorized_by = $2, authorized_at = now(),
			status = CASE WHEN status = 'pending' THEN 'authorized' ELSE status END, updated_at = now()
			WHERE corp_id = $1`, corpID, by)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return UnknownCorpError(corpID)
		}
		return logOp(ctx, tx, corpID, by, "authorize", map[string]any{"authorized_by": by})
	})
}
