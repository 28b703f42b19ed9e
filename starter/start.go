package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/store"
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

// corpStore checks the corp id and opens the store.
func corpStore(cmd *cobra.Command, env *environment, corpID string) (*store.Store, error) {
	if err := validateCorpID(corpID); err != nil {
		return nil, err
	}
	return env.store(cmd.Context())
}

// boundCorp checks the corp id and that the corp is bound, and opens the store and Temporal.
func boundCorp(cmd *cobra.Command, env *environment, corpID string) (*store.Store, client.Client, error) {
	if err := validateCorpID(corpID); err != nil {
		return nil, nil, err
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.GetBinding(cmd.Context(), corpID); err != nil {
		return nil, nil, err
	}
	c, err := env.client()
	return st, c, err
}

// launch is one workflow the CLI starts for a corp, one at a time.
type launch struct {
	what   string // for messages: "full sync", "audit"
	id     string
	corpID string
	kind   string // the SyncKind search attribute
	wf     any
	input  any
	// then says what to do once a running one ends (default: follow it in the Temporal UI).
	then string
}

// start starts the workflow; one already running is an error saying what to do.
func (l launch) start(ctx context.Context, env *environment, c client.Client) (client.WorkflowRun, error) {
	run, err := startExclusive(ctx, env, c, l.id, l.corpID, l.kind, l.wf, l.input)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		then := l.then
		if then == "" {
			then = "or follow it in the Temporal UI"
		}
		return nil, fmt.Errorf("a %s of corp %s is already running (workflow %s, run %s): wait for it, %s",
			l.what, l.corpID, l.id, already.RunId, then)
	}
	if err != nil {
		return nil, fmt.Errorf("start the %s: %w", l.what, err)
	}
	return run, nil
}
