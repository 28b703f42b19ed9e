package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
)

type importEnv struct {
	*testsuite.TestWorkflowEnvironment
	imp      *activities.Imports
	windows  []activities.ImportWindow
	befores  []activities.ImportCounts
	refresh  *activities.RefreshApprovalsInput
	finished *activities.FinishImportInput
}

func day(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, activities.ChinaTime) }

// newImportEnv mocks BeginImport with plan, every window activity with a result of perWindow
// (or the error failAt's window returns), the refresh and FinishImport.
func newImportEnv(t *testing.T, plan activities.ImportPlan, perWindow activities.ImportCounts, failAt int, failure error) *importEnv {
	var suite testsuite.WorkflowTestSuite
	e := &importEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	e.RegisterActivity(e.imp)
	e.OnActivity(e.imp.BeginImport, mock.Anything, mock.Anything).Return(plan, nil)
	window := func(from, to time.Time, before activities.ImportCounts) (activities.ImportCounts, error) {
		e.windows = append(e.windows, activities.ImportWindow{From: from, To: to})
		e.befores = append(e.befores, before)
		if len(e.windows) == failAt {
			return activities.ImportCounts{}, failure
		}
		return perWindow, nil
	}
	e.OnActivity(e.imp.ImportAttendanceWindow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AttendanceWindowInput) (activities.ImportCounts, error) {
			return window(in.From, in.To, in.Before)
		})
	e.OnActivity(e.imp.ImportApprovalWindow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ApprovalWindowInput) (activities.ImportCounts, error) {
			return window(in.From, in.To, in.Before)
		})
	e.OnActivity(e.imp.RefreshOpenApprovals, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RefreshApprovalsInput) (activities.ImportCounts, error) {
			e.refresh = &in
			return activities.ImportCounts{Fetched: 1, Updated: 1, APICalls: 1}, nil
		})
	e.OnActivity(e.imp.FinishImport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishImportInput) (activities.FinishImportResult, error) {
			e.finished = &in
			return activities.FinishImportResult{Watermark: plan.To}, nil
		})
	return e
}

// windowsText renders windows in UTC, for comparison (payloads drop the zone's name).
func windowsText(ws []activities.ImportWindow) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.From.UTC().Format(time.RFC3339)+".."+w.To.UTC().Format(time.RFC3339))
	}
	return out
}

func (e *importEnv) result(t *testing.T) ImportResult {
	t.Helper()
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res ImportResult
	require.NoError(t, e.GetWorkflowResult(&res))
	return res
}

func TestAttendanceImportReadsSevenDatesAWindowAndSumsTheCounts(t *testing.T) {
	per := activities.ImportCounts{Fetched: 100, Inserted: 90, Updated: 10, APICalls: 4}
	e := newImportEnv(t, activities.ImportPlan{From: day(1), To: day(20)}, per, 0, nil)
	e.ExecuteWorkflow(Import, ImportInput{CorpID: "corp1", Kind: ImportAttendance})
	res := e.result(t)
	require.Equal(t, windowsText([]activities.ImportWindow{{From: day(1), To: day(7)}, {From: day(8), To: day(14)}, {From: day(15), To: day(20)}}), windowsText(e.windows))
	require.Equal(t, []activities.ImportCounts{{}, per, per.Plus(per)}, e.befores, "each window is told what the run counted before it")
	require.Equal(t, ImportResult{CorpID: "corp1", Kind: ImportAttendance, From: "2025-03-01", To: "2025-03-20", Windows: 3,
		Fetched: 300, Inserted: 270, Updated: 30, APICalls: 12, Watermark: "2025-03-20"}, res)
	require.Equal(t, store.ImportSucceeded, e.finished.Status)
	require.True(t, e.finished.AdvanceTo.IsZero(), "attendance windows advance the watermark themselves")
	require.Equal(t, 300, e.finished.Counts.Fetched)
	var progress ImportProgress
	v, err := e.QueryWorkflow(QueryImportProgress)
	require.NoError(t, err)
	require.NoError(t, v.Get(&progress))
	require.Equal(t, ImportProgress{Phase: PhaseDone, WindowsDone: 3, Windows: 3, Fetched: 300, APICalls: 12}, progress)
}

func TestApprovalImportReadsWindowsThenReReadsEarlierOpenInstances(t *testing.T) {
	from := day(1)
	to := from.Add(150 * 24 * time.Hour)
	e := newImportEnv(t, activities.ImportPlan{From: from, To: to}, activities.ImportCounts{Fetched: 5, Inserted: 5, Skipped: 2, Leaves: 1}, 0, nil)
	e.ExecuteWorkflow(Import, ImportInput{CorpID: "corp1", Kind: ImportApprovals, From: "2025-03-01", To: "2025-07-29"})
	res := e.result(t)
	require.Equal(t, windowsText([]activities.ImportWindow{{From: from, To: from.Add(120 * 24 * time.Hour)}, {From: from.Add(120 * 24 * time.Hour), To: to}}), windowsText(e.windows))
	require.True(t, from.Equal(e.refresh.StartedBefore))
	require.Equal(t, 11, res.Fetched)
	require.Equal(t, 4, res.SkippedFinished)
	require.Equal(t, 2, res.Leaves)
	require.True(t, from.Equal(e.finished.AdvanceFrom) && to.Equal(e.finished.AdvanceTo), "a complete run moves the watermark over its range")
}

func TestFailedWindowFailsTheImportWithItsMessageAndMovesNoWatermark(t *testing.T) {
	denied := temporal.NewNonRetryableApplicationError("permission qyapi_process_read missing; fix: grant it", activities.ErrTypeDingTalkPermission, nil)
	e := newImportEnv(t, activities.ImportPlan{From: day(1), To: day(1).Add(200 * 24 * time.Hour)}, activities.ImportCounts{Fetched: 3}, 2, denied)
	e.ExecuteWorkflow(Import, ImportInput{CorpID: "corp1", Kind: ImportApprovals})
	require.True(t, e.IsWorkflowCompleted())
	require.ErrorContains(t, e.GetWorkflowError(), "qyapi_process_read missing; fix: grant it")
	require.Len(t, e.windows, 2)
	require.Nil(t, e.refresh)
	require.Equal(t, store.ImportFailed, e.finished.Status)
	require.Contains(t, e.finished.Error, "qyapi_process_read")
	require.True(t, e.finished.AdvanceTo.IsZero())
	require.Equal(t, 3, e.finished.Counts.Fetched, "the counts of the windows that ran are recorded")
}

func TestSkippedImportReadsNothing(t *testing.T) {
	e := newImportEnv(t, activities.ImportPlan{Skipped: "the app lacks qyapi_attendance_read"}, activities.ImportCounts{}, 0, nil)
	e.ExecuteWorkflow(Import, ImportInput{CorpID: "corp1", Kind: ImportAttendance, Trigger: "schedule"})
	res := e.result(t)
	require.Equal(t, "the app lacks qyapi_attendance_read", res.Skipped)
	require.Empty(t, e.windows)
	require.Equal(t, store.ImportSkipped, e.finished.Status)
}

func TestImportRefusesBadInput(t *testing.T) {
	for _, in := range []ImportInput{{Kind: ImportAttendance}, {CorpID: "corp1", Kind: "payroll"}, {CorpID: "corp1", Kind: ImportAttendance, From: "2025-03-01"}} {
		var suite testsuite.WorkflowTestSuite
		e := suite.NewTestWorkflowEnvironment()
		e.ExecuteWorkflow(Import, in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, e.GetWorkflowError(), &appErr, "input %+v", in)
		require.Equal(t, ErrTypeInvalidInput, appErr.Type())
	}
}

func TestScheduledImportRunsBothKindsAndReportsAFailedOne(t *testing.T) {
	var started []string
	res, err := runScheduled(t, schedules.RunInput{CorpID: "corp1", Kind: schedules.KindImport}, func(e *testsuite.TestWorkflowEnvironment) {
		e.RegisterWorkflow(Import)
		e.OnWorkflow(Import, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in ImportInput) (ImportResult, error) {
			started = append(started, in.Kind+"/"+in.Trigger)
			if in.Kind == ImportAttendance {
				return ImportResult{}, temporal.NewNonRetryableApplicationError("DingTalk is down", activities.ErrTypeDingTalkUnavailable, nil)
			}
			return ImportResult{CorpID: "corp1", Kind: in.Kind, Fetched: 7}, nil
		})
	})
	require.Equal(t, []string{"attendance/schedule", "approvals/schedule"}, started, "a failed kind does not stop the other")
	require.ErrorContains(t, err, "DingTalk is down")
	require.Empty(t, res.Imports, "a failed run returns no result")
}

func TestScheduledImportSkipsAKindAlreadyRunning(t *testing.T) {
	res, err := runScheduled(t, schedules.RunInput{CorpID: "corp1", Kind: schedules.KindImport}, func(e *testsuite.TestWorkflowEnvironment) {
		e.RegisterWorkflow(Import)
		e.OnWorkflow(Import, mock.Anything, ImportInput{CorpID: "corp1", Kind: ImportAttendance, Trigger: "schedule"}).
			Return(ImportResult{}, &temporal.ChildWorkflowExecutionAlreadyStartedError{})
		e.OnWorkflow(Import, mock.Anything, ImportInput{CorpID: "corp1", Kind: ImportApprovals, Trigger: "schedule"}).
			Return(ImportResult{CorpID: "corp1", Kind: ImportApprovals, Fetched: 7}, nil)
	})
	require.NoError(t, err)
	require.Len(t, res.Imports, 2)
	require.Contains(t, res.Imports[0].Skipped, "import/attendance/corp1 was already running")
	require.Equal(t, 7, res.Imports[1].Fetched)
}
