package main

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/workflows"
)

// startExclusive starts workflow wf as id, one execution of the id at a time: a second start
// while one runs fails with serviceerror.WorkflowExecutionAlreadyStarted. The search
// attributes are set from the start, so the UI lists the run under its corp and kind at once.
func startExclusive(ctx context.Context, env *environment, c client.Client, id, corpID, kind string, wf, input any) (client.WorkflowRun, error) {
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                env.config().TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running execution instead of refusing.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.CorpIDAttribute.ValueSet(corpID),
			workflows.SyncKindAttribute.ValueSet(kind)),
	}, wf, input)
}
