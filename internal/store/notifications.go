package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Notification kinds: what happened.
const (
	NotifyRunFailed          = "run_failed"
	NotifyBindingQuarantined = "binding_quarantined"
	NotifyDeletionsAwaiting  = "deletions_awaiting"
	NotifyAuditDrift         = "audit_drift"
	NotifyCredentialsInvalid = "credentials_invalid"
)

// NotificationKinds lists every kind, in the order settings show them.
var NotificationKinds = []string{NotifyRunFailed, NotifyBindingQuarantined, NotifyDeletionsAwaiting,
	NotifyAuditDrift, NotifyCredentialsInvalid}

// Notification statuses (notifications.status).
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
	NotificationDropped = "dropped"
)

// RecipientsHRAdmins in a corp's recipients stands for every employee holding the hr_admin role.
const RecipientsHRAdmins = "hr_admins"

// MaxNotificationBytes is the longest message DingTalk delivers (its 2048-byte limit).
const MaxNotificationBytes = 2048

// NewNotification is an event to tell the corp's HR admins about.
type NewNotification struct {
	CorpID string
	Kind   string
	// DedupeKey names the event (e.g. "run_failed/run/42"): a second write with it is dropped.
	DedupeKey string
	Message   string
}

const enqueueNotificationSQL = `INSERT INTO notifications (corp_id, kind, dedupe_key, message) VALUES ($1, $2, $3, $4)
	ON CONFLICT (corp_id, dedupe_key) DO NOTHING`

// EnqueueNotification writes n to the outbox. Writing the same corp and dedupe key again (a
// retried activity) changes nothing and reports inserted=false.
func (s *Store) EnqueueNotification(ctx context.Context, n NewNotification) (inserted bool, err error) {
	switch {
	case !slices.Contains(NotificationKinds, n.Kind):
		return false, fmt.Errorf("unknown notification kind %q", n.Kind)
	case n.DedupeKey == "":
		return false, errors.New("a notification needs a dedupe key")
	case n.Message == "" || len(n.Message) > MaxNotificationBytes:
		return false, fmt.Errorf("a notification's message is 1 to %d bytes, not %d", MaxNotificationBytes, len(n.Message))
	}
	res, err := s.db.ExecContext(ctx, enqueueNotificationSQL, n.CorpID, n.Kind, n.DedupeKey, n.Message)
	if err != nil {
		return false, fmt.Errorf("write notification %s: %w", n.DedupeKey, err)
	}
	rows, _ := res.RowsAffected()
	return rows == 1, nil
}

// Recipient statuses, per userid in Notification.Results.
const (
	RecipientHeld      = "held"      // not sent: a DingTalk limit would drop it (Detail says which)
	RecipientSent      = "sent"      // handed to DingTalk; its result is not known yet
	RecipientRead      = "read"      // delivered and read
	RecipientUnread    = "unread"    // delivered
	RecipientInvalid   = "invalid"   // DingTalk knows no such user
	RecipientForbidden = "forbidden" // DingTalk dropped it over a limit (Code 143105 or 143106)
	RecipientFailed    = "failed"    // DingTalk failed to deliver it, or the send failed
)

// RecipientResult is what became of a notification for one recipient.
type RecipientResult struct {
	Status string `json:"status"`
	Code   string `json:"code,omitempty"`
	TaskID int64  `json:"task_id,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Delivered says whether DingTalk took it for delivery (it counts toward the user's limits).
func (r RecipientResult) Delivered() bool {
	return r.Status == RecipientSent || r.Status == RecipientRead || r.Status == RecipientUnread
}

// RecipientResults maps userids to their result (a jsonb column).
type RecipientResults map[string]RecipientResult

// Scan reads the jsonb column.
func (r *RecipientResults) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("recipient results: unexpected %T", src)
	}
	*r = RecipientResults{}
	return json.Unmarshal(b, r)
}

// Value writes the jsonb column.
func (r RecipientResults) Value() (driver.Value, error) {
	if r == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]RecipientResult(r))
}

// Notification is one row of the outbox.
type Notification struct {
	ID           int64            `db:"id" json:"id"`
	CorpID       string           `db:"corp_id" json:"corp_id"`
	Kind         string           `db:"kind" json:"kind"`
	DedupeKey    string           `db:"dedupe_key" json:"dedupe_key"`
	Message      string           `db:"message" json:"message"`
	Status       string           `db:"status" json:"status"`
	Reason       string           `db:"reason" json:"reason,omitempty"`
	Recipients   pq.StringArray   `db:"recipients" json:"recipients"`
	Results      RecipientResults `db:"results" json:"results"`
	AgentID      sql.NullInt64    `db:"agent_id" json:"-"`
	TaskIDs      pq.Int64Array    `db:"task_ids" json:"task_ids"`
	Attempts     int              `db:"attempts" json:"attempts"`
	ResultChecks int              `db:"result_checks" json:"result_checks"`
	CreatedAt    time.Time        `db:"created_at" json:"created_at"`
	SentAt       *time.Time       `db:"sent_at" json:"sent_at,omitempty"`
	CheckedAt    *time.Time       `db:"checked_at" json:"checked_at,omitempty"`
}

const notificationColumns = `id, corp_id, kind, dedupe_key, message, status, reason, recipients, results,
	agent_id, task_ids, attempts, result_checks, created_at, sent_at, checked_at`

// ListNotifications returns the corp's newest notifications, newest first.
func (s *Store) ListNotifications(ctx context.Context, corpID string, limit int) ([]Notification, error) {
	out := []Notification{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+notificationColumns+` FROM notifications
		WHERE corp_id = $1 ORDER BY id DESC LIMIT $2`, corpID, limit)
	return out, err
}

// NotificationSettings say who gets a corp's notifications, and of which kinds.
type NotificationSettings struct {
	Enabled bool `db:"enabled" json:"enabled"`
	// Recipients are userids and/or RecipientsHRAdmins.
	Recipients pq.StringArray `db:"recipients" json:"recipients"`
	Kinds      pq.StringArray `db:"kinds" json:"kinds"`
	UpdatedBy  string         `db:"updated_by" json:"updated_by,omitempty"`
	UpdatedAt  sql.NullTime   `db:"updated_at" json:"-"`
}

// Wants says whether the settings send notifications of kind.
func (n NotificationSettings) Wants(kind string) bool {
	return n.Enabled && slices.Contains(n.Kinds, kind)
}

// DefaultNotificationSettings are a corp's settings until someone changes them.
func DefaultNotificationSettings() NotificationSettings {
	return NotificationSettings{Enabled: true, Recipients: []string{RecipientsHRAdmins}, Kinds: slices.Clone(NotificationKinds)}
}

// GetNotificationSettings returns the corp's settings (the defaults if never set).
func (s *Store) GetNotificationSettings(ctx context.Context, corpID string) (NotificationSettings, error) {
	if _, err := s.GetBinding(ctx, corpID); err != nil {
		return NotificationSettings{}, err
	}
	return notificationSettings(ctx, s.db, corpID)
}

func notificationSettings(ctx context.Context, q sqlx.QueryerContext, corpID string) (NotificationSettings, error) {
	var n NotificationSettings
	err := sqlx.GetContext(ctx, q, &n, `SELECT enabled, recipients, kinds, updated_by, updated_at
		FROM notification_settings WHERE corp_id = $1`, corpID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultNotificationSettings(), nil
	}
	return n, err
}

// NotificationSettingsUpdate changes a corp's settings; nil fields keep their value.
type NotificationSettingsUpdate struct {
	Enabled    *bool
	Recipients []string // nil: unchanged
	Kinds      []string // nil: unchanged
}

// SetNotificationSettings changes the corp's settings and logs who changed them.
func (s *Store) SetNotificationSettings(ctx context.Context, corpID, actor string, u NotificationSettingsUpdate) (NotificationSettings, error) {
	for _, k := range u.Kinds {
		if !slices.Contains(NotificationKinds, k) {
			return NotificationSettings{}, fmt.Errorf("unknown notification kind %q: the kinds are %s", k, strings.Join(NotificationKinds, ", "))
		}
	}
	if u.Recipients != nil && len(u.Recipients) == 0 || u.Kinds != nil && len(u.Kinds) == 0 {
		return NotificationSettings{}, errors.New("name at least one recipient and one kind, or turn notifications off")
	}
	if _, err := s.GetBinding(ctx, corpID); err != nil {
		return NotificationSettings{}, err
	}
	var out NotificationSettings
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := notificationSettings(ctx, tx, corpID)
		if err != nil {
			return err
		}
		if u.Enabled != nil {
			cur.Enabled = *u.Enabled
		}
		if u.Recipients != nil {
			cur.Recipients = u.Recipients
		}
		if u.Kinds != nil {
			cur.Kinds = u.Kinds
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_settings (corp_id, enabled, recipients, kinds, updated_by)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (corp_id) DO UPDATE SET enabled = EXCLUDED.enabled,
			recipients = EXCLUDED.recipients, kinds = EXCLUDED.kinds, updated_by = EXCLUDED.updated_by, updated_at = now()`,
			corpID, cur.Enabled, cur.Recipients, cur.Kinds, actor); err != nil {
			return fmt.Errorf("store notification settings: %w", err)
		}
		cur.UpdatedBy = actor
		out = cur
		return logOp(ctx, tx, corpID, actor, "notification settings", map[string]any{"enabled": cur.Enabled,
			"recipients": cur.Recipients, "kinds": cur.Kinds})
	})
	return out, err
}

// CorpName is the corp's name as DingTalk shows it (its root department's), or "" before
// the first sync read it.
func (s *Store) CorpName(ctx context.Context, corpID string) (string, error) {
	var name sql.NullString
	err := s.db.GetContext(ctx, &name, `SELECT name FROM departments WHERE corp_id = $1 AND dept_id = 1`, corpID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name.String, err
}
