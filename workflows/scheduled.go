package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/internal/schedules"
)

// ScheduledResult says what a scheduled run did.
type ScheduledResult struct {
	WorkflowID string
	// Skipped says why nothing ran (one of the corp's runs of that kind was already running).
	Skipped string
	Audit   *AuditResult    `json:",omitempty"`
	Sync    *FullSyncResult `json:",omitempty"`
	// Imports are the import schedule's runs, one per kind.
	Imports []ImportResult `json:",omitempty"`
}

// Scheduled is what a binding's schedules start: it runs the corp's audit or full sync as a
// child under its usual id (audit/<corp>, fullsync/<corp>), so a scheduled run never overlaps
// a manual one; when one is running, this run is skipped and says so. The import schedule runs
// both imports (scheduledImports).
func Scheduled(ctx workflow.Context, in schedules.RunInput) (ScheduledResult, error) {
	var res ScheduledResult
	if in.CorpID == "" {
		return res, temporal.NewNonRetryableApplicationError("a scheduled run needs a corp id", ErrTypeInvalidInput, nil)
	}
	if in.Kind == schedules.KindImport {
		return scheduledImports(ctx, in.CorpID)
	}
	var wf, input, out any
	var kind string
	switch in.Kind {
	case schedules.KindAudit:
		res.WorkflowID, kind, wf = AuditWorkflowID(in.CorpID), KindAudit, Audit
		input, res.Audit = AuditInput{CorpID: in.CorpID, Trigger: "schedule"}, &AuditResult{}
		out = res.Audit
	case schedules.KindFullSync:
		res.WorkflowID, kind, wf = FullSyncWorkflowID(in.CorpID), KindFull, FullSync
		input, res.Sync = FullSyncInput{CorpID: in.CorpID, Trigger: "schedule"}, &FullSyncResult{}
		out = res.Sync
	default:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown schedule kind %q: want %q, %q or %q",
			in.Kind, schedules.KindAudit, schedules.KindFullSync, schedules.KindImport), ErrTypeInvalidInput, nil)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: res.WorkflowID,
		TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(in.CorpID),
			SyncKindAttribute.ValueSet(kind)),
	})
	err := workflow.ExecuteChildWorkflow(cctx, wf, input).Get(ctx, out)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		res.Audit, res.Sync = nil, nil
		res.Skipped = fmt.Sprintf("%s was already running (started by hand or by an earlier schedule)", res.WorkflowID)
		return res, nil
	}
	return res, err
}
