package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Run statuses (sync_runs.status).
const (
	RunRunning          = "running"
	RunSucceeded        = "succeeded"
	RunPartial          = "partial"
	RunFailed           = "failed"
	RunAwaitingApproval = "awaiting_approval"
)

// Run is one row of the sync log.
type Run struct {
	ID                 int64          `db:"id" json:"id"`
	CorpID             string         `db:"corp_id" json:"corp_id"`
	Kind               string         `db:"kind" json:"kind"`
	Trigger            string         `db:"trigger" json:"trigger"`
	WorkflowID         string         `db:"workflow_id" json:"workflow_id"`
	TemporalRunID      string         `db:"temporal_run_id" json:"temporal_run_id"`
	Status             string         `db:"status" json:"status"`
	Phase              string         `db:"phase" json:"phase"`
	DepartmentsSeen    int            `db:"departments_seen" json:"departments_seen"`
	EmployeesSeen      int            `db:"employees_seen" json:"employees_seen"`
	Created            int            `db:"created" json:"created"`
	Updated            int            `db:"updated" json:"updated"`
	Deactivated        int            `db:"deactivated" json:"deactivated"`
	DepartmentsChanged int            `db:"departments_changed" json:"departments_changed"`
	RecordErrors       int            `db:"record_errors" json:"record_errors"`
	PendingDeletions   int            `db:"pending_deletions" json:"pending_deletions"`
	APICalls           int64          `db:"api_calls" json:"api_calls"`
	Throttled          int64          `db:"throttled" json:"throttled"`
	DecidedBy          sql.NullString `db:"decided_by" json:"-"`
	Error              sql.NullString `db:"error" json:"-"`
	StartedAt          time.Time      `db:"started_at" json:"started_at"`
	FinishedAt         sql.NullTime   `db:"finished_at" json:"-"`
}

// Duration is how long the run took, or has taken so far.
func (r Run) Duration(now time.Time) time.Duration {
	if r.FinishedAt.Valid {
		return r.FinishedAt.Time.Sub(r.StartedAt)
	}
	return now.Sub(r.StartedAt)
}

// StartRunInput names a run by the Temporal execution that performs it.
type StartRunInput struct {
	CorpID        string
	Kind          string
	Trigger       string
	WorkflowID    string
	TemporalRunID string
}

const startRunSQL = `INSERT INTO sync_runs (corp_id, kind, trigger, workflow_id, temporal_run_id)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (workflow_id, temporal_run_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
	RETURNING id`

const supersedeRunsSQL = `UPDATE sync_runs SET status = 'failed', finished_at = now(),
	error = 'superseded by run ' || $3 || ' of the same workflow (reset or restarted)'
	WHERE workflow_id = $1 AND temporal_run_id <> $2 AND status IN ('running', 'awaiting_approval')
	RETURNING id`

// StartRun records a run and returns its id. It is idempotent per Temporal execution, and
// marks runs of earlier executions of the same workflow that never finished (a reset, or a
// terminated run) as failed, dropping their staging.
func (s *Store) StartRun(ctx context.Context, in StartRunInput) (int64, error) {
	if _, err := s.GetBinding(ctx, in.CorpID); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.GetContext(ctx, &id, startRunSQL, in.CorpID, in.Kind, in.Trigger, in.WorkflowID, in.TemporalRunID)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	var stale []int64
	if err := s.db.SelectContext(ctx, &stale, supersedeRunsSQL, in.WorkflowID, in.TemporalRunID, fmt.Sprint(id)); err != nil {
		return 0, err
	}
	for _, old := range stale {
		if err := s.DropStaging(ctx, old); err != nil {
			return 0, err
		}
	}
	return id, nil
}

const runProgressSQL = `UPDATE sync_runs SET phase = $2, departments_seen = $3, employees_seen = $4,
	api_calls = $5, throttled = $6 WHERE id = $1`

// Progress is what a run has read so far.
type Progress struct {
	Phase           string
	DepartmentsSeen int
	EmployeesSeen   int
	APICalls        int64
	Throttled       int64
}

// SetProgress records how far a run has got, for `starter sync full --wait` and the sync log.
func (s *Store) SetProgress(ctx context.Context, runID int64, p Progress) error {
	_, err := s.db.ExecContext(ctx, runProgressSQL, runID, p.Phase, p.DepartmentsSeen, p.EmployeesSeen, p.APICalls, p.Throttled)
	return err
}

// RecordAPICalls records the DingTalk calls a run made (for runs without crawl progress).
func (s *Store) RecordAPICalls(ctx context.Context, runID, calls, throttled int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sync_runs SET api_calls = $2, throttled = $3 WHERE id = $1`, runID, calls, throttled)
	return err
}

const awaitApprovalSQL = `UPDATE sync_runs SET status = 'awaiting_approval', phase = 'awaiting approval',
	pending_deletions = $2 WHERE id = $1`

// AwaitApproval marks a run as held by the deletion guard.
func (s *Store) AwaitApproval(ctx context.Context, runID int64, pendingDeletions int) error {
	_, err := s.db.ExecContext(ctx, awaitApprovalSQL, runID, pendingDeletions)
	return err
}

const finishRunSQL = `UPDATE sync_runs SET status = $2, phase = 'done', error = NULLIF($3, ''),
	decided_by = coalesce(NULLIF($4, ''), decided_by), finished_at = now() WHERE id = $1`

// FinishRun records a run's final status and, for failed or partial runs, why. It also drops
// what is left of the run's staging.
func (s *Store) FinishRun(ctx context.Context, runID int64, status, reason, decidedBy string) error {
	if _, err := s.db.ExecContext(ctx, finishRunSQL, runID, status, reason, decidedBy); err != nil {
		return err
	}
	return s.DropStaging(ctx, runID)
}

const runColumns = `id, corp_id, kind, trigger, workflow_id, temporal_run_id, status, phase,
	departments_seen, employees_seen, created, updated, deactivated, departments_changed,
	record_errors, pending_deletions, api_calls, throttled, decided_by, error, started_at, finished_at`

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, runID int64) (Run, error) {
	var r Run
	err := s.db.GetContext(ctx, &r, `SELECT `+runColumns+` FROM sync_runs WHERE id = $1`, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sync run %d does not exist: list runs with `starter runs`", runID)
	}
	return r, err
}

// LatestRun returns the newest run of a workflow execution, for progress display.
func (s *Store) LatestRun(ctx context.Context, workflowID, temporalRunID string) (Run, error) {
	var r Run
	err := s.db.GetContext(ctx, &r, `SELECT `+runColumns+` FROM sync_runs
		WHERE workflow_id = $1 AND temporal_run_id = $2`, workflowID, temporalRunID)
	return r, err
}

// ListRuns returns the newest runs, of one corp when corpID is not empty.
func (s *Store) ListRuns(ctx context.Context, corpID string, limit int) ([]Run, error) {
	runs := []Run{}
	err := s.db.SelectContext(ctx, &runs, `SELECT `+runColumns+` FROM sync_runs
		WHERE ($1 = '' OR corp_id = $1) ORDER BY id DESC LIMIT $2`, corpID, limit)
	return runs, err
}
