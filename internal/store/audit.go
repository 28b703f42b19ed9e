package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Drift kinds, the keys of AuditReport.Drift and audit_findings.kind.
const (
	DriftMissing            = "missing"             // active in DingTalk, not (or not active) in the store
	DriftExtra              = "extra"               // active in the store, gone from DingTalk
	DriftFieldMismatch      = "field_mismatch"      // an employee's fields differ
	DriftMembershipMismatch = "membership_mismatch" // employee_departments rows differ from DingTalk's
	DriftDeptMissing        = "dept_missing"
	DriftDeptExtra          = "dept_extra"
	DriftDeptWrongParent    = "dept_wrong_parent"
	DriftDeptMismatch       = "dept_mismatch" // other department fields (a rename)
)

// DriftKinds lists every drift kind, in report order.
var DriftKinds = []string{DriftMissing, DriftExtra, DriftFieldMismatch, DriftMembershipMismatch,
	DriftDeptMissing, DriftDeptExtra, DriftDeptWrongParent, DriftDeptMismatch}

// AuditSampleLimit bounds the findings an audit keeps per kind; the counts are exact.
const AuditSampleLimit = 200

// AuditReport is one audit's result: what each side holds and the drift found.
type AuditReport struct {
	ID                  int64          `db:"id" json:"id"`
	CorpID              string         `db:"corp_id" json:"corpId"`
	RunID               int64          `db:"run_id" json:"runId"`
	DingTalkEmployees   int            `db:"dingtalk_employees" json:"dingtalkEmployees"`
	StoreEmployees      int            `db:"store_employees" json:"storeEmployees"`
	DingTalkDepartments int            `db:"dingtalk_departments" json:"dingtalkDepartments"`
	StoreDepartments    int            `db:"store_departments" json:"storeDepartments"`
	Drift               DriftCounts    `db:"drift" json:"drift"`
	UnreadableDepts     int            `db:"unreadable_depts" json:"unreadableDepartments"`
	ChangedDuringAudit  int            `db:"changed_during_audit" json:"changedDuringAudit"`
	RepairRunID         *int64         `db:"repair_run_id" json:"repairRunId,omitempty"`
	CreatedAt           time.Time      `db:"created_at" json:"createdAt"`
	Findings            []AuditFinding `db:"-" json:"findings,omitempty"`
}

// DriftCounts counts findings by drift kind.
type DriftCounts map[string]int

// Scan reads the jsonb column.
func (d *DriftCounts) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("drift counts: want jsonb bytes, got %T", src)
	}
	return json.Unmarshal(b, d)
}

// Total is the number of findings of every kind.
func (d DriftCounts) Total() int {
	n := 0
	for _, c := range d {
		n += c
	}
	return n
}

// AuditFinding is one difference, with the values on each side and why it counts as drift.
type AuditFinding struct {
	Kind       string         `db:"kind" json:"kind"`
	Entity     string         `db:"entity" json:"entity"`
	RecordID   string         `db:"record_id" json:"recordId"`
	Fields     pq.StringArray `db:"fields" json:"fields,omitempty"`
	InStore    JSONDoc        `db:"in_store" json:"inStore,omitempty"`
	InDingTalk JSONDoc        `db:"in_dingtalk" json:"inDingTalk,omitempty"`
	Reason     string         `db:"reason" json:"reason"`
}

// JSONDoc is a jsonb value read as is (nil for NULL).
type JSONDoc json.RawMessage

// Scan copies the jsonb bytes (the driver may reuse its buffer).
func (j *JSONDoc) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSONDoc(nil), v...)
	default:
		return fmt.Errorf("json document: want jsonb bytes, got %T", src)
	}
	return nil
}

// MarshalJSON writes the document itself.
func (j JSONDoc) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the document as is.
func (j *JSONDoc) UnmarshalJSON(b []byte) error {
	*j = append(JSONDoc(nil), b...)
	return nil
}

// auditFindingsSQL collects every difference between what run $1 staged and corp $2's store
// into audit_found; recent marks records the store wrote after the audit began ($3), which
// an event applied meanwhile explains and which are therefore not judged.
var auditFindingsSQL = []string{
	`CREATE TEMP TABLE audit_found (kind text, entity text, record_id text, fields text[],
	   in_store jsonb, in_dingtalk jsonb, reason text, recent boolean) ON COMMIT DROP`,
	`CREATE TEMP TABLE audit_params ON COMMIT DROP AS
	 SELECT $1::bigint AS run_id, $2::text AS corp_id, $3::timestamptz AS began`,
	// Employees active in DingTalk the store lacks or holds as left.
	`INSERT INTO audit_found
	 SELECT 'missing', 'employee', s.userid, '{}', e.attrs, s.attrs,
	   CASE WHEN e.userid IS NULL THEN 'active in DingTalk, not in the store'
	        ELSE format('active in DingTalk, marked left in the store since %s', e.left_at) END,
	   coalesce(e.updated_at > p.began, false)
	 FROM audit_params p CROSS JOIN apply_employees s LEFT JOIN employees e ON e.corp_id = p.corp_id AND e.userid = s.userid
	 WHERE e.userid IS NULL OR e.status <> 'active'`,
	// Employees active in the store that DingTalk no longer lists (outside unreadable departments).
	`INSERT INTO audit_found
	 SELECT 'extra', 'employee', e.userid, '{}', e.attrs, NULL,
	   'active in the store, not in DingTalk''s org: left, or outside the app''s contact scope', e.updated_at > p.began
	 FROM audit_params p CROSS JOIN employees e
	 WHERE e.corp_id = p.corp_id AND e.status = 'active'
	   AND NOT EXISTS (SELECT 1 FROM apply_employees s WHERE s.userid = e.userid)
	   AND NOT EXISTS (SELECT 1 FROM employee_departments ed JOIN apply_protected p USING (dept_id)
	                   WHERE ed.corp_id = e.corp_id AND ed.userid = e.userid)`,
	// Employees whose stored fields are not what DingTalk holds (by the stored values
	// themselves, not the recorded hash, so a change made behind dingsync's back shows).
	`INSERT INTO audit_found
	 SELECT 'field_mismatch', 'employee', s.userid, k.keys,
	   (SELECT jsonb_object_agg(key, e.attrs -> key) FROM unnest(k.keys) key),
	   (SELECT jsonb_object_agg(key, s.attrs -> key) FROM unnest(k.keys) key),
	   format('%s differ from DingTalk', array_to_string(k.keys, ', ')), e.updated_at > p.began
	 FROM audit_params p CROSS JOIN apply_employees s JOIN employees e ON e.corp_id = p.corp_id AND e.userid = s.userid AND e.status = 'active'
	 CROSS JOIN LATERAL (SELECT dingsync_changed_keys(e.attrs, s.attrs) AS keys) k
	 WHERE md5(e.attrs::text) <> s.hash`,
	// Employees whose employee_departments rows do not match DingTalk's departments.
	`INSERT INTO audit_found
	 SELECT 'membership_mismatch', 'employee', s.userid, '{departments}',
	   jsonb_build_object('departments', ed.m), jsonb_build_object('departments', s.m),
	   'employee_departments rows differ from DingTalk''s departments (dept, order, leader)', e.updated_at > p.began
	 FROM audit_params p CROSS JOIN LATERAL (
	       SELECT userid, jsonb_agg(jsonb_build_array(dept_id, dept_order, is_leader) ORDER BY dept_id) AS m
	       FROM staging_users WHERE run_id = p.run_id GROUP BY userid) s
	 JOIN employees e ON e.corp_id = p.corp_id AND e.userid = s.userid AND e.status = 'active'
	 LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_array(dept_id, dept_order, is_leader) ORDER BY dept_id) AS m
	            FROM employee_departments WHERE corp_id = p.corp_id AND userid = s.userid) ed ON true
	 WHERE ed.m IS DISTINCT FROM s.m`,
	`INSERT INTO audit_found
	 SELECT 'dept_missing', 'department', s.dept_id::text, '{}', d.attrs, s.attrs,
	   CASE WHEN d.dept_id IS NULL THEN 'in DingTalk, not in the store'
	        ELSE format('in DingTalk, marked removed in the store since %s', d.removed_at) END,
	   coalesce(d.updated_at > p.began, false)
	 FROM audit_params p CROSS JOIN apply_departments s LEFT JOIN departments d ON d.corp_id = p.corp_id AND d.dept_id = s.dept_id
	 WHERE d.dept_id IS NULL OR d.status <> 'active'`,
	`INSERT INTO audit_found
	 SELECT 'dept_extra', 'department', d.dept_id::text, '{}', d.attrs, NULL,
	   'active in the store, not in DingTalk''s org: removed, or outside the app''s contact scope', d.updated_at > p.began
	 FROM audit_params p CROSS JOIN departments d
	 WHERE d.corp_id = p.corp_id AND d.status = 'active'
	   AND NOT EXISTS (SELECT 1 FROM apply_departments s WHERE s.dept_id = d.dept_id)
	   AND NOT EXISTS (SELECT 1 FROM apply_protected p WHERE p.dept_id = d.dept_id)`,
	`INSERT INTO audit_found
	 SELECT CASE WHEN 'parent_id' = ANY (k.keys) THEN 'dept_wrong_parent' ELSE 'dept_mismatch' END,
	   'department', s.dept_id::text, k.keys,
	   (SELECT jsonb_object_agg(key, d.attrs -> key) FROM unnest(k.keys) key),
	   (SELECT jsonb_object_agg(key, s.attrs -> key) FROM unnest(k.keys) key),
	   CASE WHEN 'parent_id' = ANY (k.keys)
	        THEN format('under department %s in the store, under %s in DingTalk', d.attrs ->> 'parent_id', s.attrs ->> 'parent_id')
	        ELSE format('%s differ from DingTalk', array_to_string(k.keys, ', ')) END,
	   d.updated_at > p.began
	 FROM audit_params p CROSS JOIN apply_departments s JOIN departments d ON d.corp_id = p.corp_id AND d.dept_id = s.dept_id AND d.status = 'active'
	 CROSS JOIN LATERAL (SELECT dingsync_changed_keys(d.attrs, s.attrs) AS keys) k
	 WHERE md5(d.attrs::text) <> s.hash`,
}

const insertAuditReportSQL = `INSERT INTO audit_reports (corp_id, run_id, dingtalk_employees, store_employees,
	  dingtalk_departments, store_departments, drift, unreadable_depts, changed_during_audit)
	SELECT $2, $1,
	  (SELECT count(*) FROM apply_employees),
	  (SELECT count(*) FROM employees WHERE corp_id = $2 AND status = 'active'),
	  (SELECT count(*) FROM apply_departments),
	  (SELECT count(*) FROM departments WHERE corp_id = $2 AND status = 'active'),
	  $3::jsonb,
	  (SELECT count(*) FROM sync_errors WHERE run_id = $1 AND entity = 'department'),
	  (SELECT count(*) FROM audit_found WHERE recent)
	RETURNING id`

const keepAuditSampleSQL = `INSERT INTO audit_findings (report_id, kind, entity, record_id, fields, in_store, in_dingtalk, reason)
	SELECT $1, kind, entity, record_id, fields, in_store, in_dingtalk, reason FROM (
	  SELECT *, row_number() OVER (PARTITION BY kind ORDER BY record_id) AS n FROM audit_found WHERE NOT recent) f
	WHERE n <= $2`

// CompareRun compares what audit run runID staged with the corp's HR store, without changing
// either, and records an audit report with exact counts per drift kind and a sample of
// findings (AuditSampleLimit per kind), each with its reason. The run's staging is dropped.
// Comparing a run twice returns the first report.
func (s *Store) CompareRun(ctx context.Context, runID int64) (AuditReport, error) {
	var rep AuditReport
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &rep, `SELECT * FROM audit_reports WHERE run_id = $1`, runID); err == nil {
			return nil
		}
		run, err := lockRunForApply(ctx, tx, runID)
		if err != nil {
			return err
		}
		var began time.Time
		if err := tx.GetContext(ctx, &began, `SELECT started_at FROM sync_runs WHERE id = $1`, runID); err != nil {
			return err
		}
		for _, sc := range applyScratch {
			if err := sc.exec(ctx, tx, runID, run.CorpID); err != nil {
				return fmt.Errorf("prepare audit: %w", err)
			}
		}
		for _, q := range auditFindingsSQL {
			var args []any
			if strings.Contains(q, "$1") {
				args = []any{runID, run.CorpID, began}
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("compare with the store: %w", err)
			}
		}
		drift, err := countDrift(ctx, tx)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.GetContext(ctx, &id, insertAuditReportSQL, runID, run.CorpID, drift); err != nil {
			return fmt.Errorf("record audit report: %w", err)
		}
		if _, err := tx.ExecContext(ctx, keepAuditSampleSQL, id, AuditSampleLimit); err != nil {
			return fmt.Errorf("record audit findings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET phase = 'compared', applied_at = now(),
			employees_seen = (SELECT count(*) FROM apply_employees),
			departments_seen = (SELECT count(*) FROM apply_departments) WHERE id = $1`, runID); err != nil {
			return err
		}
		if err := dropStaging(ctx, tx, runID); err != nil {
			return err
		}
		return tx.GetContext(ctx, &rep, `SELECT * FROM audit_reports WHERE id = $1`, id)
	})
	return rep, err
}

// countDrift counts audit_found by kind (every kind present, zero or not) as JSON.
func countDrift(ctx context.Context, tx *sqlx.Tx) ([]byte, error) {
	var rows []struct {
		Kind string `db:"kind"`
		N    int    `db:"n"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT kind, count(*) AS n FROM audit_found WHERE NOT recent GROUP BY kind`); err != nil {
		return nil, err
	}
	drift := DriftCounts{}
	for _, k := range DriftKinds {
		drift[k] = 0
	}
	for _, r := range rows {
		drift[r.Kind] = r.N
	}
	return json.Marshal(drift)
}

// LatestAudit returns the corp's latest audit report with its findings (nil when the corp
// was never audited).
func (s *Store) LatestAudit(ctx context.Context, corpID string) (*AuditReport, error) {
	var reps []AuditReport
	if err := s.db.SelectContext(ctx, &reps, `SELECT * FROM audit_reports WHERE corp_id = $1
		ORDER BY created_at DESC, id DESC LIMIT 1`, corpID); err != nil {
		return nil, fmt.Errorf("read audit reports: %w", err)
	}
	if len(reps) == 0 {
		return nil, nil
	}
	rep := reps[0]
	if err := s.db.SelectContext(ctx, &rep.Findings, `SELECT kind, entity, record_id, fields, in_store, in_dingtalk, reason
		FROM audit_findings WHERE report_id = $1 ORDER BY kind, record_id`, rep.ID); err != nil {
		return nil, fmt.Errorf("read audit findings: %w", err)
	}
	return &rep, nil
}

// SetAuditRepair records the repair run started for an audit report.
func (s *Store) SetAuditRepair(ctx context.Context, reportID, repairRunID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE audit_reports SET repair_run_id = $2 WHERE id = $1`, reportID, repairRunID)
	return err
}
