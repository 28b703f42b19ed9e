package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Snapshot is a copy of a corp's HR rows taken before binding changed them.
type Snapshot struct {
	ID          int64     `db:"id" json:"id"`
	CorpID      string    `db:"corp_id" json:"corp_id"`
	Reason      string    `db:"reason" json:"reason"`
	Employees   int       `db:"employees" json:"employees"`
	Departments int       `db:"departments" json:"departments"`
	TakenAt     time.Time `db:"taken_at" json:"taken_at"`
}

// takeSnapshotSQL copies the corp's rows; $1 is the new snapshot's id, $2 the corp.
var takeSnapshotSQL = []string{
	`INSERT INTO snapshot_departments SELECT $1, dept_id, attrs, status, removed_at, source_hash, last_run_id
	 FROM departments WHERE corp_id = $2`,
	`INSERT INTO snapshot_employees SELECT $1, userid, attrs, status, left_at, source_hash, last_run_id
	 FROM employees WHERE corp_id = $2`,
	`INSERT INTO snapshot_memberships SELECT $1, userid, dept_id, dept_order, is_leader
	 FROM employee_departments WHERE corp_id = $2`,
	`UPDATE hr_snapshots SET employees = (SELECT count(*) FROM snapshot_employees WHERE snapshot_id = $1),
	   departments = (SELECT count(*) FROM snapshot_departments WHERE snapshot_id = $1)
	 WHERE id = $1 AND corp_id = $2`,
}

// TakeSnapshot copies the corp's departments, employees and memberships, in one transaction.
func (s *Store) TakeSnapshot(ctx context.Context, corpID, reason string) (Snapshot, error) {
	var snap Snapshot
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var id int64
		if err := tx.GetContext(ctx, &id, `INSERT INTO hr_snapshots (corp_id, reason, employees, departments)
			VALUES ($1, $2, 0, 0) RETURNING id`, corpID, reason); err != nil {
			return err
		}
		for _, q := range takeSnapshotSQL {
			if _, err := tx.ExecContext(ctx, q, id, corpID); err != nil {
				return fmt.Errorf("snapshot the HR rows: %w", err)
			}
		}
		return tx.GetContext(ctx, &snap, `SELECT id, corp_id, reason, employees, departments, taken_at
			FROM hr_snapshots WHERE id = $1`, id)
	})
	return snap, err
}

// ListSnapshots returns a corp's snapshots, newest first.
func (s *Store) ListSnapshots(ctx context.Context, corpID string) ([]Snapshot, error) {
	snaps := []Snapshot{}
	err := s.db.SelectContext(ctx, &snaps, `SELECT id, corp_id, reason, employees, departments, taken_at
		FROM hr_snapshots WHERE corp_id = $1 ORDER BY id DESC`, corpID)
	return snaps, err
}

// clearCorpSQL deletes the corp's HR rows ($1 corp) before a restore.
var clearCorpSQL = []string{
	`DELETE FROM employee_departments WHERE corp_id = $1`,
	`DELETE FROM employees WHERE corp_id = $1`,
	`DELETE FROM departments WHERE corp_id = $1`,
}

// restoreSnapshotSQL copies the snapshot's rows back; $1 snapshot, $2 corp.
var restoreSnapshotSQL = []string{
	`INSERT INTO departments (corp_id, dept_id, attrs, status, removed_at, source_hash, last_run_id)
	 SELECT $2, dept_id, attrs, status, removed_at, source_hash, last_run_id FROM snapshot_departments WHERE snapshot_id = $1`,
	`INSERT INTO employees (corp_id, userid, attrs, status, left_at, source_hash, last_run_id)
	 SELECT $2, userid, attrs, status, left_at, source_hash, last_run_id FROM snapshot_employees WHERE snapshot_id = $1`,
	`INSERT INTO employee_departments (corp_id, userid, dept_id, dept_order, is_leader)
	 SELECT $2, userid, dept_id, dept_order, is_leader FROM snapshot_memberships WHERE snapshot_id = $1`,
}

// RestoreSnapshot puts the corp's HR rows back as they were when the snapshot was taken, in
// one transaction, and logs who did it. The audit trail is kept.
func (s *Store) RestoreSnapshot(ctx context.Context, corpID string, snapshotID int64, actor string) (Snapshot, error) {
	var snap Snapshot
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &snap, `SELECT id, corp_id, reason, employees, departments, taken_at
			FROM hr_snapshots WHERE id = $1 AND corp_id = $2 FOR UPDATE`, snapshotID, corpID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("corp %q has no snapshot %d: list them with `starter snapshot list --corp-id %s`", corpID, snapshotID, corpID)
		}
		if err != nil {
			return err
		}
		if err := lockCorpWrites(ctx, tx, corpID); err != nil {
			return err
		}
		for _, q := range clearCorpSQL {
			if _, err := tx.ExecContext(ctx, q, corpID); err != nil {
				return fmt.Errorf("restore snapshot %d: %w", snapshotID, err)
			}
		}
		for _, q := range restoreSnapshotSQL {
			if _, err := tx.ExecContext(ctx, q, snapshotID, corpID); err != nil {
				return fmt.Errorf("restore snapshot %d: %w", snapshotID, err)
			}
		}
		if err := refreshRolesOf(ctx, tx, corpID, `SELECT userid FROM employees WHERE corp_id = $1
			UNION SELECT userid FROM employee_roles WHERE corp_id = $1`); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "restore snapshot", map[string]any{"snapshot_id": snapshotID,
			"employees": snap.Employees, "departments": snap.Departments})
	})
	return snap, err
}
