package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Binding is one corp's binding to a DingTalk app.
type Binding struct {
	CorpID               string         `db:"corp_id"`
	AppType              string         `db:"app_type"`
	AgentID              sql.NullInt64  `db:"agent_id"`
	AppKey               string         `db:"app_key"`
	Status               string         `db:"status"`
	DeletionGuardPercent int            `db:"deletion_guard_percent"`
	DeletionGuardMax     int            `db:"deletion_guard_max"`
	CallbackURL          sql.NullString `db:"callback_url"`
	Permissions          PermissionList `db:"permissions"`
	VerifiedAt           sql.NullTime   `db:"verified_at"`
	StatusReason         sql.NullString `db:"status_reason"`
	AuthorizedBy         sql.NullString `db:"authorized_by"`
	AuthorizedAt         sql.NullTime   `db:"authorized_at"`
	// AuditCron and FullSyncCron are the cron specs (UTC) of the binding's schedules; empty
	// turns one off. AuditRepair makes a scheduled audit repair the drift it finds.
	AuditCron    string    `db:"audit_cron"`
	FullSyncCron string    `db:"fullsync_cron"`
	AuditRepair  bool      `db:"audit_repair"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
	// EventIntake is how DingTalk's events reach dingsync: EventIntakeHTTP (pushes to
	// CallbackURL) or EventIntakeStream (a Stream mode connection a worker holds).
	EventIntake string `db:"event_intake"`
	// ImportCron is when the daily import of attendance and approvals runs ("" = 04:MM, "off").
	ImportCron string `db:"import_cron"`
}

// BindingStatus values (DESIGN.md, data model).
const (
	BindingPending            = "pending"
	BindingAuthorized         = "authorized"
	BindingPaused             = "paused"
	BindingActive             = "active"
	BindingSyncing            = "syncing"
	BindingQuarantined        = "quarantined"
	BindingCredentialsInvalid = "credentials_invalid"
	BindingUnbound            = "unbound"
)

// ErrUnknownCorp is returned for a corp that has no binding.
var ErrUnknownCorp = errors.New("no binding for this corp")

// UnknownCorpError wraps ErrUnknownCorp with the corp id and the command that fixes it.
func UnknownCorpError(corpID string) error {
	return fmt.Errorf("corp %q: %w: bind it first with `starter bind --corp-id %s --app-key ... --app-secret-file ...`", corpID, ErrUnknownCorp, corpID)
}

const getBindingSQL = `SELECT corp_id, app_type, agent_id, app_key, status, deletion_guard_percent,
	deletion_guard_max, callback_url, permissions, verified_at, status_reason, authorized_by, authorized_at,
	audit_cron, fullsync_cron, audit_repair, import_cron, event_intake, created_at, updated_at FROM bindings WHERE corp_id = $1`

// GetBinding returns the binding of corpID, or an error wrapping ErrUnknownCorp.
func (s *Store) GetBinding(ctx context.Context, corpID string) (Binding, error) {
	var b Binding
	err := s.db.GetContext(ctx, &b, getBindingSQL, corpID)
	if errors.Is(err, sql.ErrNoRows) {
		return b, UnknownCorpError(corpID)
	}
	return b, err
}

// BindInput is what `starter bind` stores for a corp.
type BindInput struct {
	CorpID  string
	AppKey  string
	AgentID int64
	// CallbackURL is where DingTalk pushes contact events ("" = events not configured).
	CallbackURL string
	// EventIntake is EventIntakeHTTP or EventIntakeStream ("": http for a new binding, kept
	// on a rebind).
	EventIntake string
	// SealSecret encrypts the AppSecret for the given seal context (see SealContext); the
	// store never sees plaintext.
	SealSecret func(sealContext string) ([]byte, error)
	Actor      string
}

// ErrAppKeyConflict is returned when a corp is already bound to another app.
var ErrAppKeyConflict = errors.New("corp is bound to another AppKey")

const lockBindingSQL = `SELECT app_key, status FROM bindings WHERE corp_id = $1 FOR UPDATE`

const insertBindingSQL = `INSERT INTO bindings (corp_id, app_key, agent_id, callback_url, event_intake)
	VALUES ($1, $2, NULLIF($3, 0), NULLIF($4, ''), COALESCE(NULLIF($5, ''), 'http'))`

const rebindSQL = `UPDATE bindings SET app_key = $2, agent_id = NULLIF($3, 0), callback_url = NULLIF($4, ''),
	event_intake = COALESCE(NULLIF($5, ''), event_intake),
	status = CASE WHEN status IN ('unbound', 'credentials_invalid') THEN 'pending' ELSE status END,
	status_reason = NULL, updated_at = now() WHERE corp_id = $1`

// Bind records corpID's binding and stores AppSecret as the active credential. Binding the
// same corp and AppKey again replaces the secret (a new version); another AppKey is refused
// while the corp is bound.
func (s *Store) Bind(ctx context.Context, in BindInput) (version int, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var existing struct {
			AppKey string `db:"app_key"`
			Status string `db:"status"`
		}
		err := tx.GetContext(ctx, &existing, lockBindingSQL, in.CorpID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, insertBindingSQL, in.CorpID, in.AppKey, in.AgentID, in.CallbackURL, in.EventIntake); err != nil {
				return err
			}
		case err != nil:
			return err
		case existing.AppKey != in.AppKey && existing.Status != BindingUnbound:
			return fmt.Errorf("corp %q: %w %q; unbind it first (`starter unbind --corp-id %s`) if the company really moved to a new app", in.CorpID, ErrAppKeyConflict, existing.AppKey, in.CorpID)
		default:
			if _, err := tx.ExecContext(ctx, rebindSQL, in.CorpID, in.AppKey, in.AgentID, in.CallbackURL, in.EventIntake); err != nil {
				return err
			}
		}
		version, err = putActiveCredential(ctx, tx, in.CorpID, CredentialAppSecret, in.SealSecret)
		if err != nil {
			return err
		}
		return logOp(ctx, tx, in.CorpID, in.Actor, "bind", map[string]any{"app_key": in.AppKey, "credential_version": version})
	})
	return version, err
}

const setBindingStatusSQL = `UPDATE bindings SET status = $2, status_reason = NULLIF($3, ''), updated_at = now()
	WHERE corp_id = $1`

// SetBindingStatus moves corpID's binding to status, saying why (reason may be empty).
func (s *Store) SetBindingStatus(ctx context.Context, corpID, status, reason string) error {
	res, err := s.db.ExecContext(ctx, setBindingStatusSQL, corpID, status, reason)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return UnknownCorpError(corpID)
	}
	return nil
}

// BindingStatuses returns every binding's status by corp (unbound ones included: their
// gauge then reads unbound rather than going stale).
func (s *Store) BindingStatuses(ctx context.Context) (map[string]string, error) {
	var rows []struct {
		CorpID string `db:"corp_id"`
		Status string `db:"status"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT corp_id, status FROM bindings`); err != nil {
		return nil, fmt.Errorf("read binding statuses: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.CorpID] = r.Status
	}
	return out, nil
}

// ScheduleSettings changes a binding's schedule settings; nil fields keep their value.
type ScheduleSettings struct {
	AuditCron    *string
	FullSyncCron *string
	AuditRepair  *bool
	ImportCron   *string
}

// UpdateScheduleSettings stores a binding's schedule settings and logs who changed them.
func (s *Store) UpdateScheduleSettings(ctx context.Context, corpID, actor string, in ScheduleSettings) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bindings SET audit_cron = coalesce($2, audit_cron),
			fullsync_cron = coalesce($3, fullsync_cron), audit_repair = coalesce($4, audit_repair),
			import_cron = coalesce($5, import_cron), updated_at = now()
			WHERE corp_id = $1`, corpID, in.AuditCron, in.FullSyncCron, in.AuditRepair, in.ImportCron)
		if err != nil {
			return fmt.Errorf("store schedule settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return UnknownCorpError(corpID)
		}
		return logOp(ctx, tx, corpID, actor, "schedules", map[string]any{"audit_cron": in.AuditCron,
			"fullsync_cron": in.FullSyncCron, "audit_repair": in.AuditRepair, "import_cron": in.ImportCron})
	})
}

// RecoverCredentials marks a binding whose credentials were invalid active again: a run just
// succeeded with them. Any other status (paused, syncing, quarantined…) is left alone.
func (s *Store) RecoverCredentials(ctx context.Context, corpID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE bindings SET status = 'active', status_reason = NULL, updated_at = now()
		WHERE corp_id = $1 AND status = 'credentials_invalid'`, corpID)
	return err
}
