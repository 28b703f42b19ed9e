package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// Import reads one kind of HR data of a corp from DingTalk into the HR store: attendance records
// in windows of 7 work dates (each window an activity reading 50 users a call, resumable from its
// heartbeat), or approval instances in windows of 120 days of start times, then a re-read of the
// stored instances still running that started earlier. Without From/To it starts at the kind's
// watermark; with them it backfills that range. Everything it writes is keyed by DingTalk's ids,
// so a re-run changes nothing that did not change in DingTalk.
func Import(ctx workflow.Context, in ImportInput) (ImportResult, error) {
	im, err := newImporter(ctx, in)
	if err != nil {
		return ImportResult{CorpID: in.CorpID, Kind: in.Kind}, err
	}
	return im.run(ctx)
}

// importer is one import run.
type importer struct {
	in       ImportInput
	res      ImportResult
	counts   activities.ImportCounts
	progress ImportProgress
}

func newImporter(ctx workflow.Context, in ImportInput) (*importer, error) {
	switch {
	case in.CorpID == "":
		return nil, temporal.NewNonRetryableApplicationError("an import needs a corp id", ErrTypeInvalidInput, nil)
	case !slices.Contains(ImportKinds, in.Kind):
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown import kind %q: want %q or %q",
			in.Kind, ImportAttendance, ImportApprovals), ErrTypeInvalidInput, nil)
	case (in.From == "") != (in.To == ""):
		return nil, temporal.NewNonRetryableApplicationError("a backfill needs both From and To (yyyy-MM-dd)", ErrTypeInvalidInput, nil)
	}
	if in.Trigger == "" {
		in.Trigger = "manual"
	}
	im := &importer{in: in, res: ImportResult{CorpID: in.CorpID, Kind: in.Kind}, progress: ImportProgress{Phase: PhaseStarting}}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(ImportSyncKind(in.Kind))); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryImportProgress, func() (ImportProgress, error) { return im.progress, nil }); err != nil {
		return nil, err
	}
	return im, nil
}

func (im *importer) run(ctx workflow.Context) (ImportResult, error) {
	var imp *activities.Imports
	var plan activities.ImportPlan
	err := workflow.ExecuteActivity(shortActivity(ctx), imp.BeginImport, activities.BeginImportInput{CorpID: im.in.CorpID,
		Kind: im.in.Kind, Trigger: im.in.Trigger, From: im.in.From, To: im.in.To}).Get(ctx, &plan)
	if err != nil {
		return im.res, err
	}
	im.res.Backfill, im.res.Note = plan.Backfill, plan.Note
	finish := activities.FinishImportInput{CorpID: im.in.CorpID, Kind: im.in.Kind, Status: store.ImportSucceeded}
	if plan.Skipped != "" {
		im.res.Skipped, finish.Status, finish.Error = plan.Skipped, store.ImportSkipped, plan.Skipped
	} else {
		im.res.From, im.res.To = im.formatRange(plan.From), im.formatRange(plan.To)
		if im.in.Kind == ImportAttendance {
			err = im.attendance(ctx, plan)
		} else {
			err = im.approvals(ctx, plan)
			finish.AdvanceFrom, finish.AdvanceTo = plan.From, plan.To
		}
	}
	if err != nil {
		finish.Status, finish.Error, finish.AdvanceTo = store.ImportFailed, FailureMessage(err), time.Time{}
	}
	finish.Counts = im.counts
	im.summarise()
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var finished activities.FinishImportResult
	if ferr := workflow.ExecuteActivity(shortActivity(dctx), imp.FinishImport, finish).Get(dctx, &finished); ferr != nil && err == nil {
		err = ferr
	}
	im.progress.Phase = PhaseDone
	if !finished.Watermark.IsZero() {
		im.res.Watermark = im.formatRange(finished.Watermark)
	}
	if err != nil {
		return im.res, surfaced(err)
	}
	return im.res, nil
}

// attendance imports the plan's work dates window by window.
func (im *importer) attendance(ctx workflow.Context, plan activities.ImportPlan) error {
	var imp *activities.Imports
	windows := activities.AttendanceWindows(plan.From, plan.To)
	im.start(len(windows))
	for i, w := range windows {
		var c activities.ImportCounts
		err := workflow.ExecuteActivity(importActivity(ctx), imp.ImportAttendanceWindow, activities.AttendanceWindowInput{
			CorpID: im.in.CorpID, From: w.From, To: w.To, Before: im.counts, Window: i + 1, Windows: len(windows)}).Get(ctx, &c)
		if err != nil {
			return err
		}
		im.add(c)
	}
	return nil
}

// approvals imports the instances started in the plan's range, window by window, then re-reads
// the stored ones still running that started before it.
func (im *importer) approvals(ctx workflow.Context, plan activities.ImportPlan) error {
	var imp *activities.Imports
	windows := activities.ApprovalWindows(plan.From, plan.To)
	im.start(len(windows))
	for i, w := range windows {
		var c activities.ImportCounts
		err := workflow.ExecuteActivity(importActivity(ctx), imp.ImportApprovalWindow, activities.ApprovalWindowInput{
			CorpID: im.in.CorpID, From: w.From, To: w.To, Before: im.counts, Window: i + 1, Windows: len(windows)}).Get(ctx, &c)
		if err != nil {
			return err
		}
		im.add(c)
	}
	im.progress.Phase = "re-reading unfinished instances"
	var c activities.ImportCounts
	err := workflow.ExecuteActivity(importActivity(ctx), imp.RefreshOpenApprovals, activities.RefreshApprovalsInput{
		CorpID: im.in.CorpID, StartedBefore: plan.From, Before: im.counts}).Get(ctx, &c)
	if err == nil {
		im.counts = im.counts.Plus(c)
	}
	return err
}

func (im *importer) start(windows int) {
	im.res.Windows = windows
	im.progress = ImportProgress{Phase: PhaseReading, Windows: windows}
}

func (im *importer) add(c activities.ImportCounts) {
	im.counts = im.counts.Plus(c)
	im.progress.WindowsDone++
	im.progress.Fetched, im.progress.APICalls = im.counts.Fetched, im.counts.APICalls
}

func (im *importer) summarise() {
	c := im.counts
	im.res.Fetched, im.res.Inserted, im.res.Updated = c.Fetched, c.Inserted, c.Updated
	im.res.SkippedFinished, im.res.Missing, im.res.Leaves = c.Skipped, c.Missing, c.Leaves
	im.res.APICalls, im.res.Throttled = c.APICalls, c.Throttled
}

// formatRange renders a range end: a work date for attendance, a time for approvals.
func (im *importer) formatRange(t time.Time) string {
	if im.in.Kind == ImportAttendance {
		return t.In(activities.ChinaTime).Format(time.DateOnly)
	}
	return t.In(activities.ChinaTime).Format(time.RFC3339)
}

// importActivity is for an import window: long, heartbeating after every chunk or page,
// resumable from its heartbeat; retries bounded like a crawl's.
func importActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute, // a chunk of 50 users is a few pages at 19 QPS
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 2 * time.Minute, MaximumAttempts: 15, NonRetryableErrorTypes: nonRetryable},
	})
}
