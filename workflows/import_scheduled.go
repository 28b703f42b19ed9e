package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// scheduledImports is the Scheduled workflow's run of a binding's import schedule: the corp's
// attendance import, then its approvals import, each as a child under its usual id
// (import/<kind>/<corp>), so it never overlaps a manual import of the same kind, which makes it
// skip that kind and say so. A failed kind does not stop the other; the run fails after both if
// either failed.
func scheduledImports(ctx workflow.Context, corpID string) (ScheduledResult, error) {
	var res ScheduledResult
	var firstErr error
	for _, kind := range ImportKinds {
		id := ImportWorkflowID(kind, corpID)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: id,
			TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(corpID),
				SyncKindAttribute.ValueSet(ImportSyncKind(kind))),
		})
		var out ImportResult
		err := workflow.ExecuteChildWorkflow(cctx, Import, ImportInput{CorpID: corpID, Kind: kind, Trigger: "schedule"}).Get(ctx, &out)
		switch {
		case temporal.IsWorkflowExecutionAlreadyStartedError(err):
			res.Imports = append(res.Imports, ImportResult{CorpID: corpID, Kind: kind,
				Skipped: fmt.Sprintf("%s was already running (started by hand or by an earlier schedule)", id)})
		case err != nil:
			out.CorpID, out.Kind, out.Note = corpID, kind, "failed: "+FailureMessage(err)
			res.Imports = append(res.Imports, out)
			if firstErr == nil {
				firstErr = err
			}
		default:
			res.Imports = append(res.Imports, out)
		}
	}
	return res, firstErr
}
