package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// A rotation moves a credential kind through: a new version stored as pending, proved, switched
// to active (the old one kept as previous), then the previous retired — or, on failure, the
// previous made active again and the new one retired with a note saying why.

// ErrRotationInProgress is returned when a corp already has a pending version of a kind.
var ErrRotationInProgress = errors.New("a rotation is already in progress")

// PendingSecret is one credential kind to store as pending, sealed by Seal for its row.
type PendingSecret struct {
	Kind string
	Seal func(sealContext string) ([]byte, error)
}

// PutPendingCredentials stores new versions of the kinds as pending (not used until
// activated), all or none, and logs them; it returns their versions in order. A kind that
// already has a pending version is refused: its rotation is still under way.
func (s *Store) PutPendingCredentials(ctx context.Context, corpID, actor string, secrets ...PendingSecret) ([]int, error) {
	var versions []int
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		versions = versions[:0]
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM bindings WHERE corp_id = $1 FOR UPDATE`, corpID); err != nil {
			return err
		}
		for _, sec := range secrets {
			v, err := putPending(ctx, tx, corpID, actor, sec)
			if err != nil {
				return err
			}
			versions = append(versions, v)
		}
		return nil
	})
	return versions, err
}

func putPending(ctx context.Context, tx *sqlx.Tx, corpID, actor string, sec PendingSecret) (int, error) {
	var pending int
	if err := tx.GetContext(ctx, &pending, `SELECT count(*) FROM credentials WHERE corp_id = $1 AND kind = $2 AND status IN ('pending', 'previous')`,
		corpID, sec.Kind); err != nil {
		return 0, err
	}
	if pending > 0 {
		return 0, fmt.Errorf("corp %s: %w for %s: wait for rotate/%s to finish (see it in the Temporal UI)", corpID, ErrRotationInProgress, sec.Kind, corpID)
	}
	var version int
	if err := tx.GetContext(ctx, &version, nextCredentialVersionSQL, corpID, sec.Kind); err != nil {
		return 0, err
	}
	sealed, err := sec.Seal(SealContext(corpID, sec.Kind, version))
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO credentials (corp_id, kind, version, status, ciphertext)
		VALUES ($1, $2, $3, 'pending', $4)`, corpID, sec.Kind, version, sealed); err != nil {
		return 0, fmt.Errorf("store pending %s v%d: %w", sec.Kind, version, err)
	}
	return version, logOp(ctx, tx, corpID, actor, "rotate "+sec.Kind, map[string]any{"version": version, "step": "stored pending"})
}

// CredentialVersion returns one stored version of a credential, with its status.
func (s *Store) CredentialVersion(ctx context.Context, corpID, kind string, version int) (SealedCredential, string, error) {
	var row struct {
		SealedCredential
		Status string `db:"status"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT corp_id, kind, version, ciphertext, status FROM credentials
		WHERE corp_id = $1 AND kind = $2 AND version = $3`, corpID, kind, version)
	if errors.Is(err, sql.ErrNoRows) {
		return SealedCredential{}, "", fmt.Errorf("corp %s has no %s version %d: %w", corpID, kind, version, ErrNoCredential)
	}
	return row.SealedCredential, row.Status, err
}

// AcceptedCredentials returns the versions of kind a receiver accepts: active, pending and
// previous (during a rotation both old and new keys sign pushes), newest first.
func (s *Store) AcceptedCredentials(ctx context.Context, corpID, kind string) ([]SealedCredential, error) {
	var out []SealedCredential
	err := s.db.SelectContext(ctx, &out, `SELECT corp_id, kind, version, ciphertext FROM credentials
		WHERE corp_id = $1 AND kind = $2 AND status IN ('active', 'pending', 'previous') ORDER BY version DESC`, corpID, kind)
	return out, err
}

// RecentlyRotated reports whether a rotation of kind is under way for the corp, or switched
// to a new version less than within ago (callers holding the old version may not know yet).
func (s *Store) RecentlyRotated(ctx context.Context, corpID, kind string, within time.Duration) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM credentials WHERE corp_id = $1 AND kind = $2
		AND (status IN ('pending', 'previous') OR (status = 'active' AND version > 1 AND activated_at > now() - $3 * interval '1 second'))`,
		corpID, kind, within.Seconds())
	return n > 0, err
}

// RotationPending says a version of the corp's credential kind is stored as pending: a
// rotation is under way and has not switched to it (nor rolled it back) yet.
func (s *Store) RotationPending(ctx context.Context, corpID, kind string) (bool, error) {
	var pending bool
	err := s.db.GetContext(ctx, &pending, `SELECT EXISTS (SELECT 1 FROM credentials
		WHERE corp_id = $1 AND kind = $2 AND status = 'pending')`, corpID, kind)
	return pending, err
}

// ActivateCredential switches kind to version atomically: the active version becomes previous
// and version active. Activating the active version again changes nothing.
func (s *Store) ActivateCredential(ctx context.Context, corpID, kind string, version int, actor string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		status, err := lockCredential(ctx, tx, corpID, kind, version)
		if err != nil || status == "active" {
			return err
		}
		if status != "pending" {
			return fmt.Errorf("%s v%d of corp %s is %s, not pending: it cannot be activated", kind, version, corpID, status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET status = 'previous'
			WHERE corp_id = $1 AND kind = $2 AND status = 'active'`, corpID, kind); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET status = 'active', activated_at = now()
			WHERE corp_id = $1 AND kind = $2 AND version = $3`, corpID, kind, version); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "rotate "+kind, map[string]any{"version": version, "step": "activated"})
	})
}

// FinishRotation retires the previous version of kind (the new one proved itself). Run again
// it changes and logs nothing.
func (s *Store) FinishRotation(ctx context.Context, corpID, kind string, version int, actor string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE credentials SET status = 'retired', retired_at = now(),
			note = 'replaced by version ' || $3 WHERE corp_id = $1 AND kind = $2 AND status = 'previous'`, corpID, kind, version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // retried after it committed: retired and logged already
		}
		return logOp(ctx, tx, corpID, actor, "rotate "+kind, map[string]any{"version": version, "step": "succeeded"})
	})
}

// RollbackRotation undoes a rotation to version: it is retired with reason as its note, and the
// previous version, if it was switched away from, is active again.
func (s *Store) RollbackRotation(ctx context.Context, corpID, kind string, version int, actor, reason string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		status, err := lockCredential(ctx, tx, corpID, kind, version)
		if err != nil || status == "retired" {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET status = 'retired', retired_at = now(), note = $4
			WHERE corp_id = $1 AND kind = $2 AND version = $3`, corpID, kind, version, "rolled back: "+reason); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET status = 'active'
			WHERE corp_id = $1 AND kind = $2 AND status = 'previous'`, corpID, kind); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "rotate "+kind, map[string]any{"version": version, "step": "rolled back", "reason": reason})
	})
}

func lockCredential(ctx context.Context, tx *sqlx.Tx, corpID, kind string, version int) (string, error) {
	var status string
	err := tx.GetContext(ctx, &status, `SELECT status FROM credentials WHERE corp_id = $1 AND kind = $2 AND version = $3 FOR UPDATE`,
		corpID, kind, version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("corp %s has no %s version %d: %w", corpID, kind, version, ErrNoCredential)
	}
	return status, err
}
