package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lib/pq"
)

// Change is one row of the audit trail: what one run did to one record.
type Change struct {
	ID            int64           `db:"id" json:"id"`
	RunID         int64           `db:"run_id" json:"run_id"`
	CorpID        string          `db:"corp_id" json:"corp_id"`
	Entity        string          `db:"entity" json:"entity"`
	RecordID      string          `db:"record_id" json:"record_id"`
	Op            string          `db:"op" json:"op"`
	ChangedFields pq.StringArray  `db:"changed_fields" json:"changed_fields"`
	Before        json.RawMessage `db:"before" json:"before"`
	After         json.RawMessage `db:"after" json:"after"`
	ChangedAt     time.Time       `db:"changed_at" json:"changed_at"`
}

// ChangeFilter selects changes: of one run, or of one record of a corp.
type ChangeFilter struct {
	RunID    int64
	CorpID   string
	Entity   string
	RecordID string
	Limit    int
}

const listChangesSQL = `SELECT id, run_id, corp_id, entity, record_id, op, changed_fields,
	coalesce(before, 'null') AS before, coalesce(after, 'null') AS after, changed_at
	FROM sync_changes
	WHERE ($1 = 0 OR run_id = $1) AND ($2 = '' OR corp_id = $2) AND ($3 = '' OR entity = $3)
	  AND ($4 = '' OR record_id = $4)
	ORDER BY id LIMIT $5`

// ListChanges returns the changes that match f, oldest first.
func (s *Store) ListChanges(ctx context.Context, f ChangeFilter) ([]Change, error) {
	changes := []Change{}
	err := s.db.SelectContext(ctx, &changes, listChangesSQL, f.RunID, f.CorpID, f.Entity, f.RecordID, f.Limit)
	return changes, err
}

// ListRecordErrors returns the per-record failures of a run.
func (s *Store) ListRecordErrors(ctx context.Context, runID int64) ([]RecordError, error) {
	errs := []RecordError{}
	err := s.db.SelectContext(ctx, &errs, `SELECT entity, record_id, kind, code, message FROM sync_errors WHERE run_id = $1 ORDER BY id`, runID)
	return errs, err
}
