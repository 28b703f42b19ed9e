package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// AuditWorkflowID is the id of corpID's consistency audit: one at a time per corp.
func AuditWorkflowID(corpID string) string { return "audit/" + corpID }

// AuditInput starts a consistency audit of one corp.
type AuditInput struct {
	CorpID string
	// Repair applies the drift found through a repair run (as does the binding's
	// audit_repair setting).
	Repair bool
	// Trigger says who or what started the audit: "manual", "schedule".
	Trigger string
}

// AuditResult summarises an audit and its repair.
type AuditResult struct {
	RunID    int64
	ReportID int64
	Drift    map[string]int
	Total    int
	// RepairRunID is the repair run's sync_runs id (0 when none ran); RepairNote says why
	// none ran when drift was found and repair asked for.
	RepairRunID  int64
	RepairStatus string
	RepairNote   string
}

// Audit reads the corp's whole DingTalk org into staging without applying it, compares it with
// the HR store and records a report of the drift (store.CompareRun). When asked to repair,
// and drift was found, it runs a full sync of kind repair as a child under the full sync's
// workflow id, so it never overlaps a full sync and goes through the deletion guard.
func Audit(ctx workflow.Context, in AuditInput) (AuditResult, error) {
	var res AuditResult
	if in.CorpID == "" {
		return res, temporal.NewNonRetryableApplicationError("an audit needs a corp id", ErrTypeInvalidInput, nil)
	}
	if in.Trigger == "" {
		in.Trigger = "manual"
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindAudit)); err != nil {
		return res, err
	}
	var sync *activities.Sync
	var started activities.StartRunResult
	err := workflow.ExecuteActivity(shortActivity(ctx), sync.StartRun,
		activities.StartRunInput{CorpID: in.CorpID, Kind: KindAudit, Trigger: in.Trigger}).Get(ctx, &started)
	if err != nil {
		return res, err
	}
	res.RunID = started.RunID
	summary, err := compare(ctx, in.CorpID, res.RunID)
	finish := activities.FinishRunInput{CorpID: in.CorpID, RunID: res.RunID, Kind: KindAudit, Status: store.RunSucceeded}
	switch {
	case err != nil:
		finish.Status, finish.Reason = store.RunFailed, FailureMessage(err)
		finish.BindingStatus, finish.ErrorType = bindingStatusAfterFailure(err)
		if finish.BindingStatus == store.BindingActive {
			finish.BindingStatus = "" // a failed audit changes nothing in the store: the binding stays as it is
		}
	case summary.UnreadableDepartments > 0:
		finish.Status = store.RunPartial
		finish.Reason = fmt.Sprintf("%d departments could not be read and were not judged (see sync_errors of run %d)",
			summary.UnreadableDepartments, res.RunID)
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if ferr := workflow.ExecuteActivity(shortActivity(dctx), sync.FinishRun, finish).Get(dctx, nil); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return res, surfaced(err)
	}
	res.ReportID, res.Drift, res.Total = summary.ReportID, summary.Drift, summary.Total
	if res.Total > 0 && (in.Repair || summary.RepairByPolicy) {
		repair(ctx, in.CorpID, &res)
	}
	return res, nil
}

// compare crawls DingTalk into the audit run's staging and compares it with the store.
func compare(ctx workflow.Context, corpID string, runID int64) (activities.AuditSummary, error) {
	var sync *activities.Sync
	var audit *activities.Audit
	var crawled activities.CrawlResult
	err := workflow.ExecuteActivity(crawlActivity(ctx), sync.CrawlOrg,
		activities.CrawlInput{CorpID: corpID, RunID: runID}).Get(ctx, &crawled)
	if err != nil {
		return activities.AuditSummary{}, err
	}
	if crawled.Departments > 0 && float64(crawled.RecordErrors) > maxRecordFailureRatio*float64(crawled.Departments) {
		return activities.AuditSummary{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%d of %d departments could not be read (over %.0f%%): an audit of so little says nothing; see `starter runs --run-id %d` for each department's error and fix the app's permissions or contact scope",
				crawled.RecordErrors, crawled.Departments, maxRecordFailureRatio*100, runID),
			ErrTypeTooManyFailures, nil)
	}
	var summary activities.AuditSummary
	err = workflow.ExecuteActivity(applyActivity(ctx), audit.CompareRun,
		activities.CompareInput{CorpID: corpID, RunID: runID}).Get(ctx, &summary)
	return summary, err
}

// repair runs a full sync of kind repair as a child and records it on the report. A full sync
// already running is left to fix the drift itself (it rewrites every record it reads).
func repair(ctx workflow.Context, corpID string, res *AuditResult) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: FullSyncWorkflowID(corpID),
		TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(corpID),
			SyncKindAttribute.ValueSet(KindRepair)),
	})
	var synced FullSyncResult
	err := workflow.ExecuteChildWorkflow(cctx, FullSync, FullSyncInput{CorpID: corpID, Kind: KindRepair, Trigger: "audit"}).Get(ctx, &synced)
	res.RepairRunID, res.RepairStatus = synced.RunID, synced.Status
	switch {
	case temporal.IsWorkflowExecutionAlreadyStartedError(err):
		res.RepairNote = "a full sync of the corp was already running: it rewrites every drifted record, so no repair run was started"
		return
	case err != nil:
		res.RepairStatus = store.RunFailed
		res.RepairNote = "the repair run failed: " + FailureMessage(err)
	}
	if synced.RunID == 0 {
		return
	}
	var audit *activities.Audit
	if err := workflow.ExecuteActivity(shortActivity(ctx), audit.RecordRepair,
		activities.RecordRepairInput{ReportID: res.ReportID, RepairRunID: synced.RunID}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("record repair run on the audit report", "corp", corpID, "error", err)
	}
}
