package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// eHR write statuses.
const (
	WritePending = "pending"
	WritePushed  = "pushed"
	WriteFailed  = "failed"
)

// eHR write operations.
const (
	WriteUpdate     = "update"      // user/update of eHR-owned fields
	WriteCreate     = "create"      // user/create of a new hire
	WriteDeptCreate = "dept_create" // department/create of a department made in the eHR
	WriteDeptUpdate = "dept_update" // department/update: a rename, move or reorder made in the eHR
)

// EHRWrite is one change made in the eHR, queued for DingTalk (ehr_writes).
type EHRWrite struct {
	ID             int64           `db:"id" json:"id"`
	CorpID         string          `db:"corp_id" json:"corp_id"`
	UserID         string          `db:"userid" json:"userid,omitempty"`   // "" for a department write
	DeptID         *int64          `db:"dept_id" json:"dept_id,omitempty"` // a department write's department
	Op             string          `db:"op" json:"op"`
	Fields         json.RawMessage `db:"fields" json:"fields"`
	Base           json.RawMessage `db:"base" json:"base"`
	IdempotencyKey string          `db:"idempotency_key" json:"idempotency_key"`
	Actor          string          `db:"actor" json:"actor"`
	Status         string          `db:"status" json:"status"`
	Reason         *string         `db:"reason" json:"reason,omitempty"`
	CreatedAt      time.Time       `db:"created_at" json:"created_at"`
	FinishedAt     *time.Time      `db:"finished_at" json:"finished_at,omitempty"`
}

// Subject names what the write changes: the member's userid, or the department.
func (w EHRWrite) Subject() string {
	switch {
	case w.UserID != "":
		return w.UserID
	case w.DeptID != nil:
		return fmt.Sprintf("department %d", *w.DeptID)
	}
	var f struct{ Name string }
	_ = json.Unmarshal(w.Fields, &f)
	return fmt.Sprintf("department %q", f.Name)
}

// Values decodes the write's fields and base.
func (w EHRWrite) Values() (fields, base map[string]any, err error) {
	if err = json.Unmarshal(w.Fields, &fields); err != nil {
		return nil, nil, err
	}
	if len(w.Base) > 0 {
		err = json.Unmarshal(w.Base, &base)
	}
	return fields, base, err
}

const ehrWriteColumns = `id, corp_id, userid, dept_id, op, fields, base, idempotency_key, actor, status, reason, created_at, finished_at`

// GetEHRWrite returns one write of a corp.
func (s *Store) GetEHRWrite(ctx context.Context, corpID string, id int64) (EHRWrite, error) {
	var w EHRWrite
	err := s.db.GetContext(ctx, &w, `SELECT `+ehrWriteColumns+` FROM ehr_writes WHERE corp_id = $1 AND id = $2`, corpID, id)
	return w, err
}

// PendingEHRWrites returns the ids of up to limit of the corp's writes not pushed yet, oldest
// first (a user's writes push in the order they were made).
func (s *Store) PendingEHRWrites(ctx context.Context, corpID string, limit int) ([]int64, error) {
	ids := []int64{}
	err := s.db.SelectContext(ctx, &ids, `SELECT id FROM ehr_writes WHERE corp_id = $1 AND status = 'pending'
		ORDER BY id LIMIT $2`, corpID, limit)
	return ids, err
}

// CorpsWithPendingWrites lists the corps with writes waiting longer than olderThan.
func (s *Store) CorpsWithPendingWrites(ctx context.Context, olderThan time.Duration) ([]string, error) {
	corps := []string{}
	err := s.db.SelectContext(ctx, &corps, `SELECT DISTINCT corp_id FROM ehr_writes
		WHERE status = 'pending' AND created_at < now() - $1 * interval '1 second'`, olderThan.Seconds())
	return corps, err
}

// ListEHRWrites returns the corp's latest writes, newest first, optionally of one status.
func (s *Store) ListEHRWrites(ctx context.Context, corpID, status string, limit int) ([]EHRWrite, error) {
	writes := []EHRWrite{}
	err := s.db.SelectContext(ctx, &writes, `SELECT `+ehrWriteColumns+` FROM ehr_writes
		WHERE corp_id = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT $3`, corpID, status, limit)
	return writes, err
}

// FieldConflict is a field both sides changed since they last agreed, or one DingTalk changed
// though the eHR owns it; the owner's value won.
type FieldConflict struct {
	ID            int64           `db:"id" json:"id"`
	CorpID        string          `db:"corp_id" json:"corp_id"`
	UserID        string          `db:"userid" json:"userid"`
	Field         string          `db:"field" json:"field"`
	Base          json.RawMessage `db:"base" json:"base"`
	EHRValue      json.RawMessage `db:"ehr_value" json:"ehr_value"`
	DingTalkValue json.RawMessage `db:"dingtalk_value" json:"dingtalk_value"`
	BothChanged   bool            `db:"both_changed" json:"both_changed"`
	Winner        string          `db:"winner" json:"winner"`
	FoundBy       string          `db:"found_by" json:"found_by"`
	FoundAt       time.Time       `db:"found_at" json:"found_at"`
}

// ListFieldConflicts returns the corp's latest conflicts, newest first.
func (s *Store) ListFieldConflicts(ctx context.Context, corpID string, limit int) ([]FieldConflict, error) {
	conflicts := []FieldConflict{}
	err := s.db.SelectContext(ctx, &conflicts, `SELECT id, corp_id, userid, field, base, ehr_value, dingtalk_value,
		both_changed, winner, found_by, found_at FROM field_conflicts WHERE corp_id = $1 ORDER BY id DESC LIMIT $2`, corpID, limit)
	return conflicts, err
}

// WriteOutcome is what pushing one write to DingTalk came to.
type WriteOutcome struct {
	Status string // WritePushed or WriteFailed
	Reason string // why it failed and the fix, or a note on what the push found
	// Synced are the field values DingTalk now holds: the new base of those fields.
	Synced map[string]any
	// Conflicts are the fields DingTalk had changed too (the eHR, their owner, won).
	Conflicts []FieldConflict
	// DeptID is the department a dept_create made (or adopted), 0 otherwise.
	DeptID int64
}

// FinishEHRWrite records a write's outcome once: its status, the new base of the fields
// pushed and the conflicts found. A write already finished is left as it is.
func (s *Store) FinishEHRWrite(ctx context.Context, w EHRWrite, out WriteOutcome) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ehr_writes SET status = $3, reason = nullif($4, ''), finished_at = now(),
			dept_id = coalesce(nullif($5, 0), dept_id) WHERE corp_id = $1 AND id = $2 AND status = 'pending'`,
			w.CorpID, w.ID, out.Status, out.Reason, out.DeptID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		for f, v := range out.Synced {
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO employee_field_state (corp_id, userid, field, synced)
				VALUES ($1, $2, $3, $4) ON CONFLICT (corp_id, userid, field) DO UPDATE SET synced = EXCLUDED.synced`,
				w.CorpID, w.UserID, f, raw); err != nil {
				return err
			}
		}
		for _, c := range out.Conflicts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO field_conflicts (corp_id, userid, field, base, ehr_value,
				dingtalk_value, both_changed, winner, found_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				w.CorpID, w.UserID, c.Field, c.Base, c.EHRValue, c.DingTalkValue, c.BothChanged, c.Winner, c.FoundBy); err != nil {
				return err
			}
		}
		return logOp(ctx, tx, w.CorpID, w.Actor, "push eHR "+w.Op, map[string]any{"write": w.ID, "userid": w.UserID,
			"dept_id": coalesce(out.DeptID, w.DeptID), "status": out.Status, "reason": out.Reason, "conflicts": len(out.Conflicts)})
	})
}

// ownedFieldsIn returns the eHR-owned fields of the corp, read in tx.
func ownedFieldsIn(ctx context.Context, tx *sqlx.Tx, corpID string) ([]string, error) {
	owners := FieldOwners{}
	if err := tx.GetContext(ctx, &owners, `SELECT field_owners FROM bindings WHERE corp_id = $1`, corpID); err != nil {
		return nil, err
	}
	return owners.EHROwned(), nil
}

// coalesce is the department a write names: the one it made, else the one it was for (0: none).
func coalesce(made int64, named *int64) int64 {
	if made != 0 || named == nil {
		return made
	}
	return *named
}
