package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// NotificationClaim is a pending notification the sender holds while it sends it, with what
// it decides on: the binding's agent id, the corp's settings, the recipients they resolve to
// now, and what each recipient already got today.
type NotificationClaim struct {
	Notification
	// BindingAgentID is the app's AgentId from the binding (0: none was given).
	BindingAgentID int64
	Settings       NotificationSettings
	// Resolved are the userids the settings name now, hr_admins expanded, in order.
	Resolved []string
	// SentToday counts, per resolved userid, the corp's notifications DingTalk took for
	// delivery to them since the day began; SameToday says whether one had this message.
	SentToday map[string]int
	SameToday map[string]bool
}

// NotificationUpdate is what the sender records about a claimed notification. It replaces
// status, reason, recipients, results, agent id and task ids.
type NotificationUpdate struct {
	Status     string
	Reason     string
	Recipients []string
	Results    RecipientResults
	AgentID    int64
	TaskIDs    []int64
	Attempted  bool      // a send was attempted: count it
	Checked    bool      // a result check was made: count it
	Sent       bool      // DingTalk accepted it now: sent_at is now
	Final      bool      // its result is known: checked_at is now
	Next       time.Time // when to look at it again (a retry, or the result check)
}

// claimPendingSQL takes a never-attempted notification whatever the clocks say (its
// next_attempt_at is the database's time, which a worker's clock may trail).
const claimPendingSQL = `SELECT ` + notificationColumns + ` FROM notifications
	WHERE status = 'pending' AND (attempts = 0 OR next_attempt_at <= $1)
	ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`

const claimUncheckedSQL = `SELECT ` + notificationColumns + ` FROM notifications
	WHERE status = 'sent' AND checked_at IS NULL AND next_attempt_at <= $1
	ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`

// lockCorpNotificationsSQL serializes the sends of one corp across workers, so two senders
// never both count a user's day before either recorded its send.
const lockCorpNotificationsSQL = `SELECT pg_advisory_xact_lock(hashtextextended('dingsync.notify.' || $1, 0))`

const sentTodaySQL = `SELECT r.key AS userid, count(*) AS n, bool_or(n.message = $3) AS same
	FROM notifications n CROSS JOIN LATERAL jsonb_each(n.results) r
	WHERE n.corp_id = $1 AND n.sent_at >= $2 AND n.id <> $5 AND r.key = ANY($4)
	  AND r.value ->> 'status' IN ('sent', 'read', 'unread')
	GROUP BY r.key`

const hrAdminsSQL = `SELECT DISTINCT userid FROM employee_roles WHERE corp_id = $1 AND role = 'hr_admin' ORDER BY userid`

const updateNotificationSQL = `UPDATE notifications SET status = $2, reason = $3, recipients = $4, results = $5,
	agent_id = NULLIF($6, 0), task_ids = $7, attempts = attempts + $8, result_checks = result_checks + $9,
	next_attempt_at = $10, sent_at = CASE WHEN $11 THEN $13 ELSE sent_at END,
	checked_at = CASE WHEN $12 THEN $13 ELSE checked_at END, updated_at = now() WHERE id = $1`

// SendNextNotification claims the oldest pending notification due at now (skipping those
// another worker holds), gathers what the sender decides on (counting deliveries since
// dayStart), calls send, and records its update, all in one transaction: a worker that dies
// while sending leaves the notification pending. It reports whether one was due.
func (s *Store) SendNextNotification(ctx context.Context, now, dayStart time.Time,
	send func(NotificationClaim) NotificationUpdate) (bool, error) {
	found := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var c NotificationClaim
		if err := tx.GetContext(ctx, &c.Notification, claimPendingSQL, now); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("claim a notification: %w", err)
		}
		found = true
		if _, err := tx.ExecContext(ctx, lockCorpNotificationsSQL, c.CorpID); err != nil {
			return err
		}
		if err := loadClaim(ctx, tx, &c, dayStart); err != nil {
			return fmt.Errorf("notification %d: %w", c.ID, err)
		}
		return updateNotification(ctx, tx, c.ID, now, send(c))
	})
	return found, err
}

// CheckNextNotification claims the oldest sent notification whose result check is due at
// now, calls check, and records its update, in one transaction.
func (s *Store) CheckNextNotification(ctx context.Context, now time.Time,
	check func(Notification) NotificationUpdate) (bool, error) {
	found := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var n Notification
		if err := tx.GetContext(ctx, &n, claimUncheckedSQL, now); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("claim a notification to check: %w", err)
		}
		found = true
		return updateNotification(ctx, tx, n.ID, now, check(n))
	})
	return found, err
}

// loadClaim fills in the binding's agent id, the settings, the resolved recipients and what
// each got since dayStart.
func loadClaim(ctx context.Context, tx *sqlx.Tx, c *NotificationClaim, dayStart time.Time) error {
	var agent sql.NullInt64
	err := tx.GetContext(ctx, &agent, `SELECT agent_id FROM bindings WHERE corp_id = $1`, c.CorpID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	c.BindingAgentID = agent.Int64
	if c.Settings, err = notificationSettings(ctx, tx, c.CorpID); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range c.Settings.Recipients {
		users := []string{r}
		if r == RecipientsHRAdmins {
			users = nil
			if err := tx.SelectContext(ctx, &users, hrAdminsSQL, c.CorpID); err != nil {
				return err
			}
		}
		for _, u := range users {
			if !seen[u] {
				seen[u] = true
				c.Resolved = append(c.Resolved, u)
			}
		}
	}
	var rows []struct {
		UserID string `db:"userid"`
		N      int    `db:"n"`
		Same   bool   `db:"same"`
	}
	if err := tx.SelectContext(ctx, &rows, sentTodaySQL, c.CorpID, dayStart, c.Message, pq.Array(c.Resolved), c.ID); err != nil {
		return fmt.Errorf("count today's notifications: %w", err)
	}
	c.SentToday, c.SameToday = map[string]int{}, map[string]bool{}
	for _, r := range rows {
		c.SentToday[r.UserID], c.SameToday[r.UserID] = r.N, r.Same
	}
	return nil
}

func updateNotification(ctx context.Context, tx *sqlx.Tx, id int64, now time.Time, u NotificationUpdate) error {
	if u.Next.IsZero() {
		u.Next = now
	}
	recipients, tasks := pq.StringArray(u.Recipients), pq.Int64Array(u.TaskIDs)
	if recipients == nil {
		recipients = pq.StringArray{}
	}
	if tasks == nil {
		tasks = pq.Int64Array{}
	}
	_, err := tx.ExecContext(ctx, updateNotificationSQL, id, u.Status, u.Reason, recipients, u.Results, u.AgentID, tasks,
		boolInt(u.Attempted), boolInt(u.Checked), u.Next, u.Sent, u.Final, now)
	if err != nil {
		return fmt.Errorf("record notification %d: %w", id, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
