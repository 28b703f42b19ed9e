package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/dingsync/dingsync/internal/dingtalk"
)

// StagedUser is one user as listed in one department.
type StagedUser struct {
	DeptID int64
	User   dingtalk.User
	// Roster is the user's smart-HR roster values (code → value) of the codes the corp's
	// mapping reads (see RosterPlan); nil when it reads none. RosterUnread says the roster
	// read failed (recorded in Errors): the values the store holds are kept.
	Roster       map[string]string
	RosterUnread bool
}

// RecordError is a per-record failure of a run: the run carries on without the record.
type RecordError struct {
	Entity   string `db:"entity" json:"entity"`       // "department" or "employee"
	RecordID string `db:"record_id" json:"record_id"` // dept_id or userid
	Kind     string `db:"kind" json:"kind"`           // the DingTalk error kind, e.g. "permission"
	Code     string `db:"code" json:"code"`           // DingTalk's errcode or code
	Message  string `db:"message" json:"message"`     // what happened and what to do
}

// StageBatch is what a crawl read since its last flush. Departments and users are written
// together with the progress flags that say they are complete, so a resumed crawl re-reads
// exactly what was not yet written.
type StageBatch struct {
	Departments    []dingtalk.Department
	ChildrenListed []int64
	Users          []StagedUser
	UsersListed    []int64
	Errors         []RecordError
	// Deletions are records an incremental run learned were deleted (a leaver, a removed
	// department); only DeletionsListed applies them.
	Deletions []Deletion
}

// Deletion names one record to deactivate.
type Deletion struct {
	Entity   string // "employee" or "department"
	RecordID string
}

// Empty reports whether the batch holds nothing to write.
func (b StageBatch) Empty() bool {
	return len(b.Departments)+len(b.ChildrenListed)+len(b.Users)+len(b.UsersListed)+len(b.Errors)+len(b.Deletions) == 0
}

const markChildrenListedSQL = `UPDATE staging_departments SET children_listed = true
	WHERE run_id = $1 AND dept_id = ANY($2)`

const markUsersListedSQL = `UPDATE staging_departments SET users_listed = true
	WHERE run_id = $1 AND dept_id = ANY($2)`

const insertRecordErrorSQL = `INSERT INTO sync_errors (run_id, corp_id, entity, record_id, kind, code, message)
	VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, entity, record_id) DO NOTHING`

// Stage writes a crawl batch in one transaction. Rows already staged (by an earlier attempt
// of the same activity) are kept, so a retried or zombie attempt cannot collide.
func (s *Store) Stage(ctx context.Context, runID int64, corpID string, b StageBatch) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := copyDepartments(ctx, tx, runID, b.Departments); err != nil {
			return err
		}
		if err := copyUsers(ctx, tx, runID, corpID, b.Users); err != nil {
			return err
		}
		if len(b.ChildrenListed) > 0 {
			if _, err := tx.ExecContext(ctx, markChildrenListedSQL, runID, pq.Array(b.ChildrenListed)); err != nil {
				return err
			}
		}
		if len(b.UsersListed) > 0 {
			if _, err := tx.ExecContext(ctx, markUsersListedSQL, runID, pq.Array(b.UsersListed)); err != nil {
				return err
			}
		}
		for _, d := range b.Deletions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO staging_deletions (run_id, entity, record_id) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, runID, d.Entity, d.RecordID); err != nil {
				return err
			}
		}
		for _, e := range b.Errors {
			if _, err := tx.ExecContext(ctx, insertRecordErrorSQL, runID, corpID, e.Entity, e.RecordID, e.Kind, e.Code, e.Message); err != nil {
				return err
			}
		}
		return nil
	})
}

func copyDepartments(ctx context.Context, tx *sqlx.Tx, runID int64, depts []dingtalk.Department) error {
	rows := make([][]any, 0, len(depts))
	for _, d := range depts {
		attrs, err := json.Marshal(AttrsFromDepartment(d))
		if err != nil {
			return err
		}
		rows = append(rows, []any{runID, d.ID, string(attrs)})
	}
	return copyIgnoringDuplicates(ctx, tx, "staging_departments", []string{"run_id", "dept_id", "attrs"}, rows)
}

func copyUsers(ctx context.Context, tx *sqlx.Tx, runID int64, corpID string, users []StagedUser) error {
	if len(users) == 0 {
		return nil
	}
	mapping, err := fieldMapping(ctx, tx, corpID)
	if err != nil {
		return err
	}
	kept, err := storedRoster(ctx, tx, corpID, users)
	if err != nil {
		return err
	}
	rows := make([][]any, 0, len(users))
	for _, u := range users {
		p, err := stagedProfile(mapping, u, kept)
		if err != nil {
			return err
		}
		profile, err := json.Marshal(p)
		if err != nil {
			return err
		}
		rows = append(rows, []any{runID, u.DeptID, u.User.UserID, u.User.DeptOrder, u.User.Leader, string(profile)})
	}
	cols := []string{"run_id", "dept_id", "userid", "dept_order", "is_leader", "profile"}
	return copyIgnoringDuplicates(ctx, tx, "staging_users", cols, rows)
}

// copyIgnoringDuplicates bulk-loads rows with COPY into a temporary twin of table, then
// moves them into table skipping rows whose key is already there.
func copyIgnoringDuplicates(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	tmp := "tmp_" + table
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(
		`CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`, tmp, table)); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(tmp, cols...))
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			stmt.Close()
			return fmt.Errorf("copy into %s: %w", table, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	colList := pq.QuoteIdentifier(cols[0])
	for _, c := range cols[1:] {
		colList += ", " + pq.QuoteIdentifier(c)
	}
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING`,
		table, colList, colList, tmp))
	return err
}

// CrawlDepartment is a staged department and how far its crawl got.
type CrawlDepartment struct {
	DeptID         int64 `db:"dept_id"`
	ChildrenListed bool  `db:"children_listed"`
	UsersListed    bool  `db:"users_listed"`
}

// CrawlState is what a run has staged so far, for resuming a crawl.
type CrawlState struct {
	Departments []CrawlDepartment
	UserRows    int
}

// LoadCrawlState returns what run runID has staged so far.
func (s *Store) LoadCrawlState(ctx context.Context, runID int64) (CrawlState, error) {
	var st CrawlState
	err := s.db.SelectContext(ctx, &st.Departments, `SELECT dept_id, children_listed, users_listed
		FROM staging_departments WHERE run_id = $1 ORDER BY dept_id`, runID)
	if err != nil {
		return st, err
	}
	err = s.db.GetContext(ctx, &st.UserRows, `SELECT count(*) FROM staging_users WHERE run_id = $1`, runID)
	return st, err
}

// DropStaging deletes what run runID staged.
func (s *Store) DropStaging(ctx context.Context, runID int64) error {
	return dropStaging(ctx, s.db, runID)
}

func dropStaging(ctx context.Context, db sqlx.ExecerContext, runID int64) error {
	for _, table := range []string{"staging_users", "staging_deletions"} {
		if _, err := db.ExecContext(ctx, `DELETE FROM `+table+` WHERE run_id = $1`, runID); err != nil {
			return err
		}
	}
	_, err := db.ExecContext(ctx, `DELETE FROM staging_departments WHERE run_id = $1`, runID)
	return err
}
