package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// DeletionPolicy says what an apply does with employees and departments that vanished from
// DingTalk.
type DeletionPolicy string

// Deletion policies.
const (
	// DeletionsGuarded applies deletions only within the binding's deletion guard; above it
	// nothing is applied and the result asks for approval.
	DeletionsGuarded DeletionPolicy = "guarded"
	// DeletionsApproved applies every deletion (an operator approved them).
	DeletionsApproved DeletionPolicy = "approved"
	// DeletionsSkipped applies creates and updates but deactivates nothing (an operator
	// rejected the deletions).
	DeletionsSkipped DeletionPolicy = "skipped"
	// DeletionsListed is for incremental runs, which read only what events named: nothing is
	// taken for vanished; only the records staged as deleted (leavers, removed departments)
	// are deactivated.
	DeletionsListed DeletionPolicy = "listed"
)

// ApplyResult counts what one apply changed.
type ApplyResult struct {
	EmployeesSeen      int
	Created            int
	Updated            int
	Reactivated        int
	Deactivated        int
	DepartmentsSeen    int
	DepartmentsChanged int
	DepartmentsRemoved int
	RecordErrors       int
	NeedsApproval      bool
	PendingDeletions   int
	ActiveBeforeApply  int
	AlreadyApplied     bool
}

// scratch is one statement that builds the per-apply working tables, with its arguments.
type scratch struct {
	sql     string
	useCorp bool // takes ($1 run id, $2 corp id) rather than ($1 run id)
}

// applyScratch builds the per-apply working tables: the staged employees aggregated per
// userid with their hash, the staged departments with theirs, and the departments whose
// subtree could not be read (their members and sub-departments must not be taken for deleted).
var applyScratch = []scratch{
	// Aggregating and joining a whole org fits in memory; the 4 MB default spills to disk.
	{sql: `SET LOCAL work_mem = '256MB'`},
	{sql: `CREATE TEMP TABLE apply_employees ON COMMIT DROP AS
	 SELECT userid, attrs, md5(attrs::text) AS hash FROM (
	   SELECT userid, (array_agg(profile))[1] || jsonb_build_object('departments',
	          jsonb_agg(jsonb_build_object('dept_id', dept_id, 'order', dept_order, 'leader', is_leader)
	                    ORDER BY dept_id)) AS attrs
	   FROM staging_users WHERE run_id = $1 GROUP BY userid) s`},
	{sql: `ALTER TABLE apply_employees ADD PRIMARY KEY (userid)`},
	{sql: `CREATE TEMP TABLE apply_departments ON COMMIT DROP AS
	 SELECT dept_id, attrs, md5(attrs::text) AS hash FROM staging_departments WHERE run_id = $1`},
	{sql: `ALTER TABLE apply_departments ADD PRIMARY KEY (dept_id)`},
	{useCorp: true, sql: `CREATE TEMP TABLE apply_protected ON COMMIT DROP AS
	 WITH RECURSIVE sub AS (
	   SELECT record_id::bigint AS dept_id FROM sync_errors WHERE run_id = $1 AND entity = 'department'
	   UNION SELECT d.dept_id FROM departments d JOIN sub ON d.parent_id = sub.dept_id
	   WHERE d.corp_id = $2)
	 SELECT dept_id FROM sub`},
	{sql: `ANALYZE apply_employees`},
	{sql: `ANALYZE apply_departments`},
	{sql: `CREATE TEMP TABLE apply_changed_users (userid text PRIMARY KEY) ON COMMIT DROP`},
}

func (sc scratch) exec(ctx context.Context, tx *sqlx.Tx, runID int64, corpID string) error {
	var err error
	switch {
	case sc.useCorp:
		_, err = tx.ExecContext(ctx, sc.sql, runID, corpID)
	case strings.Contains(sc.sql, "$1"):
		_, err = tx.ExecContext(ctx, sc.sql, runID)
	default:
		_, err = tx.ExecContext(ctx, sc.sql)
	}
	return err
}

const countVanishedSQL = `SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM apply_employees s WHERE s.userid = e.userid)
	                         AND NOT EXISTS (SELECT 1 FROM employee_departments ed JOIN apply_protected p USING (dept_id)
	                                     WHERE ed.corp_id = e.corp_id AND ed.userid = e.userid)),
	       count(*)
	FROM employees e WHERE e.corp_id = $1 AND e.status = 'active'`

const upsertDepartmentsSQL = `WITH old AS (
	  SELECT d.dept_id, d.attrs, d.status FROM departments d JOIN apply_departments USING (dept_id)
	  WHERE d.corp_id = $2),
	up AS (
	  INSERT INTO departments AS d (corp_id, dept_id, attrs, source_hash, last_run_id)
	  SELECT $2, dept_id, attrs, hash, $1 FROM apply_departments
	  ON CONFLICT (corp_id, dept_id) DO UPDATE SET attrs = EXCLUDED.attrs, source_hash = EXCLUDED.source_hash,
	    last_run_id = EXCLUDED.last_run_id, status = 'active', removed_at = NULL, updated_at = now()
	  WHERE d.source_hash <> EXCLUDED.source_hash OR d.status <> 'active'
	  RETURNING dept_id),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $1, $2, 'department', up.dept_id::text,
	    CASE WHEN old.dept_id IS NULL THEN 'create' WHEN old.status <> 'active' THEN 'reactivate' ELSE 'update' END,
	    CASE WHEN old.dept_id IS NULL THEN '{}' ELSE dingsync_changed_keys(old.attrs, src.attrs) END, old.attrs, src.attrs
	  FROM up JOIN apply_departments src USING (dept_id) LEFT JOIN old USING (dept_id)
	  RETURNING 1)
	SELECT count(*) FROM ch`

const upsertEmployeesSQL = `WITH old AS (
	  SELECT e.userid, e.attrs, e.status FROM employees e JOIN apply_employees USING (userid)
	  WHERE e.corp_id = $2),
	up AS (
	  INSERT INTO employees AS e (corp_id, userid, attrs, source_hash, last_run_id)
	  SELECT $2, userid, attrs, hash, $1 FROM apply_employees
	  ON CONFLICT (corp_id, userid) DO UPDATE SET attrs = EXCLUDED.attrs, source_hash = EXCLUDED.source_hash,
	    last_run_id = EXCLUDED.last_run_id, status = 'active', left_at = NULL, updated_at = now()
	  WHERE e.source_hash <> EXCLUDED.source_hash OR e.status <> 'active'
	  RETURNING userid),
	changed AS (
	  INSERT INTO apply_changed_users (userid) SELECT userid FROM up),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $1, $2, 'employee', up.userid,
	    CASE WHEN old.userid IS NULL THEN 'create' WHEN old.status <> 'active' THEN 'reactivate' ELSE 'update' END,
	    CASE WHEN old.userid IS NULL THEN '{}' ELSE dingsync_changed_keys(old.attrs, src.attrs) END, old.attrs, src.attrs
	  FROM up JOIN apply_employees src USING (userid) LEFT JOIN old USING (userid)
	  RETURNING op)
	SELECT count(*) FILTER (WHERE op = 'create'), count(*) FILTER (WHERE op = 'update'),
	       count(*) FILTER (WHERE op = 'reactivate')
	FROM ch`

// The verified upserts of repair runs also rewrite records whose stored values no longer
// match their recorded hash.
var (
	upsertDepartmentsVerifiedSQL = strings.Replace(upsertDepartmentsSQL, "WHERE d.source_hash <> EXCLUDED.source_hash",
		"WHERE (d.source_hash <> EXCLUDED.source_hash OR md5(d.attrs::text) <> EXCLUDED.source_hash)", 1)
	upsertEmployeesVerifiedSQL = strings.Replace(upsertEmployeesSQL, "WHERE e.source_hash <> EXCLUDED.source_hash",
		"WHERE (e.source_hash <> EXCLUDED.source_hash OR md5(e.attrs::text) <> EXCLUDED.source_hash)", 1)
)

// repairMembershipsSQL marks, for a repair run, the unchanged employees whose
// employee_departments rows differ from what DingTalk says, so their rows are rewritten, and
// records each as an update of departments.
const repairMembershipsSQL = `WITH staged AS (
	  SELECT userid, jsonb_agg(jsonb_build_array(dept_id, dept_order, is_leader) ORDER BY dept_id) AS m
	  FROM staging_users WHERE run_id = $1 GROUP BY userid),
	stored AS (
	  SELECT userid, jsonb_agg(jsonb_build_array(dept_id, dept_order, is_leader) ORDER BY dept_id) AS m
	  FROM employee_departments WHERE corp_id = $2 GROUP BY userid),
	drifted AS (
	  INSERT INTO apply_changed_users (userid)
	  SELECT s.userid FROM staged s LEFT JOIN stored USING (userid)
	  WHERE stored.m IS DISTINCT FROM s.m
	  ON CONFLICT DO NOTHING
	  RETURNING userid),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $1, $2, 'employee', d.userid, 'update', '{departments}',
	    jsonb_build_object('departments', stored.m), jsonb_build_object('departments', s.m)
	  FROM drifted d JOIN staged s USING (userid) LEFT JOIN stored USING (userid)
	  RETURNING 1)
	SELECT count(*) FROM ch`

// dropMembershipsSQL and insertMembershipsSQL rewrite employee_departments for the
// employees the apply changed.
const dropMembershipsSQL = `DELETE FROM employee_departments ed USING apply_changed_users c
	WHERE ed.corp_id = $1 AND ed.userid = c.userid`

const insertMembershipsSQL = `INSERT INTO employee_departments (corp_id, userid, dept_id, dept_order, is_leader)
	SELECT $2, s.userid, s.dept_id, s.dept_order, s.is_leader
	FROM staging_users s JOIN apply_changed_users c USING (userid) WHERE s.run_id = $1`

// deactivateEmployeesSQL soft-deletes the corp's active employees that match which, with
// their memberships, writing a change per employee.
func deactivateEmployeesSQL(which string) string {
	return `WITH gone AS (
	  UPDATE employees e SET status = 'left', left_at = now(), last_run_id = $1, updated_at = now()
	  WHERE e.corp_id = $2 AND e.status = 'active' AND ` + which + `
	  RETURNING e.userid, e.attrs),
	mem AS (
	  DELETE FROM employee_departments ed USING gone WHERE ed.corp_id = $2 AND ed.userid = gone.userid),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $1, $2, 'employee', userid, 'deactivate', '{status}', attrs, NULL FROM gone
	  RETURNING 1)
	SELECT count(*) FROM ch`
}

// removeDepartmentsSQL soft-deletes the corp's active departments that match which.
func removeDepartmentsSQL(which string) string {
	return `WITH gone AS (
	  UPDATE departments d SET status = 'removed', removed_at = now(), last_run_id = $1, updated_at = now()
	  WHERE d.corp_id = $2 AND d.status = 'active' AND ` + which + `
	  RETURNING d.dept_id, d.attrs),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $1, $2, 'department', dept_id::text, 'deactivate', '{status}', attrs, NULL FROM gone
	  RETURNING 1)
	SELECT count(*) FROM ch`
}

var (
	// A full run deactivates what it did not see, except under departments it could not read.
	deactivateVanishedEmployeesSQL = deactivateEmployeesSQL(`NOT EXISTS (SELECT 1 FROM apply_employees s WHERE s.userid = e.userid)
	    AND NOT EXISTS (SELECT 1 FROM employee_departments ed JOIN apply_protected p USING (dept_id)
	                    WHERE ed.corp_id = e.corp_id AND ed.userid = e.userid)`)
	removeVanishedDepartmentsSQL = removeDepartmentsSQL(`NOT EXISTS (SELECT 1 FROM apply_departments s WHERE s.dept_id = d.dept_id)
	    AND NOT EXISTS (SELECT 1 FROM apply_protected p WHERE p.dept_id = d.dept_id)`)
	// An incremental run deactivates only what its events named.
	deactivateListedEmployeesSQL = deactivateEmployeesSQL(`EXISTS (SELECT 1 FROM staging_deletions x
	    WHERE x.run_id = $1 AND x.entity = 'employee' AND x.record_id = e.userid)`)
	removeListedDepartmentsSQL = removeDepartmentsSQL(`EXISTS (SELECT 1 FROM staging_deletions x
	    WHERE x.run_id = $1 AND x.entity = 'department' AND x.record_id = d.dept_id::text)`)
)

const recordAppliedSQL = `UPDATE sync_runs SET applied_at = now(), phase = 'applied',
	employees_seen = $2, departments_seen = $3, created = $4, updated = $5, deactivated = $6,
	departments_changed = $7, record_errors = $8, pending_deletions = 0
	WHERE id = $1`

// ErrRunFinished is returned when an apply is asked of a run that already ended.
var ErrRunFinished = errors.New("run already finished")

// Apply moves what run runID staged into the HR read model in one transaction: changed
// records are upserted (unchanged ones, by hash, are not touched), every change is written to
// sync_changes with before and after, memberships are rewritten for changed employees, and
// vanished employees and departments are soft-deleted as policy allows. Applying a run twice
// returns the first apply's counts.
func (s *Store) Apply(ctx context.Context, runID int64, policy DeletionPolicy) (ApplyResult, error) {
	var res ApplyResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		run, err := lockRunForApply(ctx, tx, runID)
		if err != nil {
			return err
		}
		if run.Applied {
			res = ApplyResult{AlreadyApplied: true, EmployeesSeen: run.EmployeesSeen, Created: run.Created,
				Updated: run.Updated, Deactivated: run.Deactivated, DepartmentsSeen: run.DepartmentsSeen,
				DepartmentsChanged: run.DepartmentsChanged, RecordErrors: run.RecordErrors}
			return nil
		}
		res, err = applyLocked(ctx, tx, runID, run.CorpID, policy, run.Kind == "repair")
		return err
	})
	if errors.Is(err, errHoldForApproval) {
		return res, nil
	}
	return res, err
}

// errHoldForApproval rolls the apply back when the deletion guard trips.
var errHoldForApproval = errors.New("deletions over the guard await approval")

// deletionGuard is a binding's limit on how many employees one apply may deactivate.
type deletionGuard struct {
	Percent int `db:"deletion_guard_percent"`
	Max     int `db:"deletion_guard_max"`
}

// trips reports whether deactivating n of active employees needs an operator's approval:
// more than Max people, or more than Percent of the active ones.
func (g deletionGuard) trips(n, active int) bool {
	return n > g.Max || n*100 > g.Percent*active
}

func loadDeletionGuard(ctx context.Context, tx *sqlx.Tx, corpID string) (deletionGuard, error) {
	var g deletionGuard
	err := tx.GetContext(ctx, &g, `SELECT deletion_guard_percent, deletion_guard_max FROM bindings WHERE corp_id = $1`, corpID)
	if errors.Is(err, sql.ErrNoRows) {
		return g, UnknownCorpError(corpID)
	}
	return g, err
}

type lockedRun struct {
	CorpID             string `db:"corp_id"`
	Kind               string `db:"kind"`
	Status             string `db:"status"`
	Applied            bool   `db:"applied"`
	EmployeesSeen      int    `db:"employees_seen"`
	DepartmentsSeen    int    `db:"departments_seen"`
	Created            int    `db:"created"`
	Updated            int    `db:"updated"`
	Deactivated        int    `db:"deactivated"`
	DepartmentsChanged int    `db:"departments_changed"`
	RecordErrors       int    `db:"record_errors"`
}

func lockRunForApply(ctx context.Context, tx *sqlx.Tx, runID int64) (lockedRun, error) {
	var r lockedRun
	err := tx.GetContext(ctx, &r, `SELECT corp_id, kind, status, applied_at IS NOT NULL AS applied,
		employees_seen, departments_seen, created, updated, deactivated, departments_changed, record_errors
		FROM sync_runs WHERE id = $1 FOR UPDATE`, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sync run %d does not exist", runID)
	}
	if err != nil {
		return r, err
	}
	if !r.Applied && r.Status != RunRunning && r.Status != RunAwaitingApproval {
		return r, fmt.Errorf("sync run %d is %s: %w", runID, r.Status, ErrRunFinished)
	}
	return r, lockCorpWrites(ctx, tx, r.CorpID)
}

// lockCorpWrites serialises everything that rewrites a corp's HR rows (full and incremental
// applies, snapshot restores) until the transaction ends.
func lockCorpWrites(ctx context.Context, tx *sqlx.Tx, corpID string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('dingsync-apply:' || $1))`, corpID)
	return err
}

// applyLocked applies run runID. verify (repair runs) judges stored records by their values
// rather than their recorded hash, and rewrites memberships that differ from DingTalk's, so
// changes made behind dingsync's back are undone.
func applyLocked(ctx context.Context, tx *sqlx.Tx, runID int64, corpID string, policy DeletionPolicy, verify bool) (ApplyResult, error) {
	var res ApplyResult
	for _, sc := range applyScratch {
		if err := sc.exec(ctx, tx, runID, corpID); err != nil {
			return res, fmt.Errorf("prepare apply: %w", err)
		}
	}
	if err := applyOwnership(ctx, tx, runID, corpID); err != nil {
		return res, err
	}
	if err := tx.GetContext(ctx, &res.EmployeesSeen, `SELECT count(*) FROM apply_employees`); err != nil {
		return res, err
	}
	if err := tx.GetContext(ctx, &res.DepartmentsSeen, `SELECT count(*) FROM apply_departments`); err != nil {
		return res, err
	}
	var scope Scope
	if err := tx.GetContext(ctx, &scope, `SELECT scope FROM bindings WHERE corp_id = $1`, corpID); err != nil {
		return res, fmt.Errorf("read the binding's scope: %w", err)
	}
	// At the org level no employee was read: none may be taken for vanished.
	syncEmployees := scope.Employees()
	if policy == DeletionsGuarded && syncEmployees {
		if err := tx.QueryRowxContext(ctx, countVanishedSQL, corpID).Scan(&res.PendingDeletions, &res.ActiveBeforeApply); err != nil {
			return res, err
		}
		guard, err := loadDeletionGuard(ctx, tx, corpID)
		if err != nil {
			return res, err
		}
		if guard.trips(res.PendingDeletions, res.ActiveBeforeApply) {
			res.NeedsApproval = true
			return res, errHoldForApproval
		}
	}
	upsertDepartments, upsertEmployees := upsertDepartmentsSQL, upsertEmployeesSQL
	if verify {
		upsertDepartments, upsertEmployees = upsertDepartmentsVerifiedSQL, upsertEmployeesVerifiedSQL
	}
	if err := tx.GetContext(ctx, &res.DepartmentsChanged, upsertDepartments, runID, corpID); err != nil {
		return res, fmt.Errorf("apply departments: %w", err)
	}
	if err := tx.QueryRowxContext(ctx, upsertEmployees, runID, corpID).Scan(&res.Created, &res.Updated, &res.Reactivated); err != nil {
		return res, fmt.Errorf("apply employees: %w", err)
	}
	if verify {
		var fixed int
		if err := tx.GetContext(ctx, &fixed, repairMembershipsSQL, runID, corpID); err != nil {
			return res, fmt.Errorf("repair memberships: %w", err)
		}
		res.Updated += fixed
	}
	if _, err := tx.ExecContext(ctx, dropMembershipsSQL, corpID); err != nil {
		return res, fmt.Errorf("apply memberships: %w", err)
	}
	if _, err := tx.ExecContext(ctx, insertMembershipsSQL, runID, corpID); err != nil {
		return res, fmt.Errorf("apply memberships: %w", err)
	}
	deactivate, remove := deactivateVanishedEmployeesSQL, removeVanishedDepartmentsSQL
	if policy == DeletionsListed {
		deactivate, remove = deactivateListedEmployeesSQL, removeListedDepartmentsSQL
	}
	if policy != DeletionsSkipped {
		if syncEmployees || policy == DeletionsListed {
			if err := tx.GetContext(ctx, &res.Deactivated, deactivate, runID, corpID); err != nil {
				return res, fmt.Errorf("deactivate employees: %w", err)
			}
		}
		if err := tx.GetContext(ctx, &res.DepartmentsRemoved, remove, runID, corpID); err != nil {
			return res, fmt.Errorf("remove departments: %w", err)
		}
	}
	// Roles follow the employees this apply changed, in its transaction: a leaver loses every
	// role, a moved leader's scope moves.
	if err := refreshRolesOf(ctx, tx, corpID, `SELECT userid FROM apply_changed_users
		UNION SELECT userid FROM employees WHERE corp_id = $1 AND last_run_id = $2 AND status = 'left'`, runID); err != nil {
		return res, err
	}
	res.PendingDeletions = max(0, res.PendingDeletions-res.Deactivated)
	if err := tx.GetContext(ctx, &res.RecordErrors, `SELECT count(*) FROM sync_errors WHERE run_id = $1`, runID); err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(ctx, recordAppliedSQL, runID, res.EmployeesSeen, res.DepartmentsSeen,
		res.Created, res.Updated+res.Reactivated, res.Deactivated, res.DepartmentsChanged+res.DepartmentsRemoved,
		res.RecordErrors); err != nil {
		return res, err
	}
	return res, dropStaging(ctx, tx, runID)
}
