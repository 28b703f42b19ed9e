package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Credential kinds.
const (
	CredentialAppSecret      = "app_secret"
	CredentialCallbackToken  = "callback_token"
	CredentialCallbackAESKey = "callback_aes_key"
)

// SealedCredential is one stored credential version, still encrypted.
type SealedCredential struct {
	CorpID     string `db:"corp_id"`
	Kind       string `db:"kind"`
	Version    int    `db:"version"`
	Ciphertext []byte `db:"ciphertext"`
}

// SealContext is the additional data a credential is sealed with, binding the ciphertext to
// its row.
func SealContext(corpID, kind string, version int) string {
	return fmt.Sprintf("%s/%s/%d", corpID, kind, version)
}

const nextCredentialVersionSQL = `SELECT coalesce(max(version), 0) + 1 FROM credentials
	WHERE corp_id = $1 AND kind = $2`

const retireActiveSQL = `UPDATE credentials SET status = 'retired', retired_at = now()
	WHERE corp_id = $1 AND kind = $2 AND status = 'active'`

const insertActiveCredentialSQL = `INSERT INTO credentials (corp_id, kind, version, status, ciphertext, activated_at)
	VALUES ($1, $2, $3, 'active', $4, now())`

// putActiveCredential retires the active version of kind and stores a new version, sealed
// by seal for its own row. A concurrent writer of the same version is refused by the key.
func putActiveCredential(ctx context.Context, tx *sqlx.Tx, corpID, kind string, seal func(string) ([]byte, error)) (int, error) {
	var version int
	if err := tx.GetContext(ctx, &version, nextCredentialVersionSQL, corpID, kind); err != nil {
		return 0, err
	}
	sealed, err := seal(SealContext(corpID, kind, version))
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, retireActiveSQL, corpID, kind); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, insertActiveCredentialSQL, corpID, kind, version, sealed); err != nil {
		return 0, fmt.Errorf("store %s v%d: %w", kind, version, err)
	}
	return version, nil
}

const activeCredentialSQL = `SELECT corp_id, kind, version, ciphertext FROM credentials
	WHERE corp_id = $1 AND kind = $2 AND status = 'active'`

// ErrNoCredential is returned when a corp has no active credential of a kind.
var ErrNoCredential = errors.New("no active credential")

// ActiveCredential returns the active sealed credential of kind for corpID.
func (s *Store) ActiveCredential(ctx context.Context, corpID, kind string) (SealedCredential, error) {
	var c SealedCredential
	err := s.db.GetContext(ctx, &c, activeCredentialSQL, corpID, kind)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("corp %q: %w (%s): store one with `starter bind`", corpID, ErrNoCredential, kind)
	}
	return c, err
}
