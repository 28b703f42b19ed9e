package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/workflows"
)

func newDeletionsCommand(env *environment) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deletions",
		Short: "Approve or reject deactivations held by the deletion guard",
		Long: `When a full sync would deactivate more employees than the binding's deletion guard allows
(by default more than 10% of active employees or more than 50 people), it applies nothing and
waits. approve applies everything; reject applies the creates and updates but deactivates
nobody (the run ends partial). Both are recorded with who decided.`,
	}
	for _, approve := range []bool{true, false} {
		cmd.AddCommand(newDecisionCommand(env, approve))
	}
	return cmd
}

func newDecisionCommand(env *environment, approve bool) *cobra.Command {
	var corpID, by, reason string
	use := "reject"
	if approve {
		use = "approve"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   use + " the deactivations the corp's running full sync holds",
		Example: fmt.Sprintf("  starter deletions %s --corp-id dingcorp1 --by alice --reason \"reorg confirmed by HR\"", use),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			if by == "" {
				return fmt.Errorf("%w: --by is required: who decides is recorded in the sync log", errUsage)
			}
			c, err := env.client()
			if err != nil {
				return err
			}
			handle, err := c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
				WorkflowID:   workflows.FullSyncWorkflowID(corpID),
				UpdateName:   workflows.UpdateDecideDeletions,
				Args:         []any{workflows.DeletionDecision{Approve: approve, By: by, Reason: reason}},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			if err != nil {
				return fmt.Errorf("%s the deletions of corp %s: %s", use, corpID, workflows.FailureMessage(err))
			}
			var msg string
			if err := handle.Get(cmd.Context(), &msg); err != nil {
				return fmt.Errorf("%s the deletions of corp %s: %s", use, corpID, workflows.FailureMessage(err))
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "the corp whose full sync holds deletions (required)")
	cmd.Flags().StringVar(&by, "by", "", "who decides (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the sync log")
	return cmd
}
