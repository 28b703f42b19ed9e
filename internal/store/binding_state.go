package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// PermissionCheck is the verdict on one permission a feature needs, as binding probed it.
type PermissionCheck struct {
	Permission string `json:"permission"` // DingTalk's permission (scope) name
	Feature    string `json:"feature"`    // what dingsync uses it for
	Required   bool   `json:"required"`   // binding fails without it; otherwise the feature is degraded
	Granted    bool   `json:"granted"`
	Detail     string `json:"detail,omitempty"` // what the probe saw
	Fix        string `json:"fix,omitempty"`    // the console step that grants it
}

// PermissionList is the stored form of a binding's permission checks (bindings.permissions).
type PermissionList []PermissionCheck

// Scan reads the jsonb column.
func (p *PermissionList) Scan(src any) error {
	raw, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("permissions: want jsonb bytes, got %T", src)
	}
	return json.Unmarshal(raw, p)
}

// Value writes the jsonb column.
func (p PermissionList) Value() (driver.Value, error) {
	if p == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(p)
}

// Missing names the permissions not granted, required ones first.
func (p PermissionList) Missing() (required, optional []PermissionCheck) {
	for _, c := range p {
		switch {
		case c.Granted:
		case c.Required:
			required = append(required, c)
		default:
			optional = append(optional, c)
		}
	}
	return required, optional
}

const recordVerificationSQL = `UPDATE bindings SET permissions = $2, verified_at = now(), updated_at = now()
	WHERE corp_id = $1`

// RecordVerification stores what the binding's verification found.
func (s *Store) RecordVerification(ctx context.Context, corpID string, checks PermissionList) error {
	_, err := s.db.ExecContext(ctx, recordVerificationSQL, corpID, checks)
	return err
}

// PutCredential stores a new active version of a credential kind (e.g. the callback token),
// sealed by seal for its row, retiring the previous one, and logs it.
func (s *Store) PutCredential(ctx context.Context, corpID, kind, actor string, seal func(sealContext string) ([]byte, error)) (int, error) {
	var version int
	err := s.inTx(ctx, func(tx *sqlx.Tx) (err error) {
		if version, err = putActiveCredential(ctx, tx, corpID, kind, seal); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "store "+kind, map[string]any{"version": version})
	})
	return version, err
}

// LogOp records who did what to a corp.
func (s *Store) LogOp(ctx context.Context, corpID, actor, action string, details map[string]any) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return logOp(ctx, tx, corpID, actor, action, details) })
}

// OpEntry is one row of ops_log.
type OpEntry struct {
	Actor   string          `db:"actor" json:"actor"`
	Action  string          `db:"action" json:"action"`
	Details json.RawMessage `db:"details" json:"details"`
	At      string          `db:"at" json:"at"`
}

// ListOps returns a corp's newest ops_log entries.
func (s *Store) ListOps(ctx context.Context, corpID string, limit int) ([]OpEntry, error) {
	ops := []OpEntry{}
	err := s.db.SelectContext(ctx, &ops, `SELECT actor, action, details, to_char(at, 'YYYY-MM-DD"T"HH24:MI:SSOF') AS at
		FROM ops_log WHERE corp_id = $1 ORDER BY id DESC LIMIT $2`, corpID, limit)
	return ops, err
}
