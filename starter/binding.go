package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// followBinding prints the binding's onboarding steps as they happen, until it settles
// (active, or waiting on a fix), and returns its state.
func followBinding(ctx context.Context, out io.Writer, c client.Client, corpID string) (workflows.BindingState, error) {
	printed := 0
	for {
		var st workflows.BindingState
		resp, err := c.QueryWorkflow(ctx, workflows.BindingWorkflowID(corpID), "", workflows.QueryStatus)
		if err == nil {
			err = resp.Get(&st)
		}
		if err != nil {
			return st, fmt.Errorf("follow binding/%s: %w", corpID, err)
		}
		for ; printed < len(st.Steps); printed++ {
			s := st.Steps[printed]
			fmt.Fprintf(out, "  %-9s %s: %s\n", "["+s.Outcome+"]", s.Name, s.Detail)
		}
		settled := st.Onboarded || (len(st.Steps) > 0 && st.Steps[len(st.Steps)-1].Outcome == "failed")
		if settled && st.Status != store.BindingSyncing {
			fmt.Fprintf(out, "corp %s is %s", corpID, st.Status)
			if st.Reason != "" {
				fmt.Fprintf(out, " (%s)", st.Reason)
			}
			fmt.Fprintln(out)
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// updateBinding sends an ops action to binding/<corp> and returns its answer.
func updateBinding(cmd *cobra.Command, c client.Client, corpID, update string, a workflows.BindingAction) (string, error) {
	handle, err := c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
		WorkflowID: workflows.BindingWorkflowID(corpID), UpdateName: update,
		Args: []any{a}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", fmt.Errorf("corp %s has no running binding: bind it with `starter bind --corp-id %s ...`", corpID, corpID)
	}
	if err != nil {
		return "", fmt.Errorf("%s corp %s: %s", update, corpID, workflows.FailureMessage(err))
	}
	var msg string
	if err := handle.Get(cmd.Context(), &msg); err != nil {
		return "", fmt.Errorf("%s corp %s: %s", update, corpID, workflows.FailureMessage(err))
	}
	return msg, nil
}

// newLifecycleCommand builds pause, resume and unbind.
func newLifecycleCommand(env *environment, update, short, long string) *cobra.Command {
	var corpID, by, reason string
	var wait bool
	cmd := &cobra.Command{
		Use: update, Short: short, Long: long,
		Example: fmt.Sprintf("  starter %s --corp-id dingcorp1 --reason \"HR migration weekend\"", update),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			c, err := env.client()
			if err != nil {
				return err
			}
			msg, err := updateBinding(cmd, c, corpID, update, workflows.BindingAction{By: by, Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			if update == workflows.UpdateResume && wait {
				_, err = followBinding(cmd.Context(), cmd.OutOrStdout(), c, corpID)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "the corp (required)")
	cmd.Flags().StringVar(&by, "by", currentUser(), "who does this, for the ops log")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the ops log")
	if update == workflows.UpdateResume {
		cmd.Flags().BoolVar(&wait, "wait", true, "follow the re-check until it settles")
	}
	return cmd
}

func newLifecycleCommands(env *environment) []*cobra.Command {
	return []*cobra.Command{
		newLifecycleCommand(env, workflows.UpdatePause, "Pause a corp: no syncs start until it is resumed",
			"pause keeps the binding and its data but refuses new syncs (a running one finishes)."),
		newLifecycleCommand(env, workflows.UpdateResume, "Resume a paused corp, or re-check one waiting on a fix",
			"resume re-activates a paused corp; a binding waiting on a fix (a permission, a secret) re-checks everything."),
		newLifecycleCommand(env, workflows.UpdateUnbind, "Unbind a corp: stop its workflows, delete its event callback, keep its HR data",
			"unbind cancels the corp's running sync, deletes its DingTalk event callback and marks it unbound.\nIts employees, departments and audit trail are kept (soft); bind again to resume."),
	}
}

func newStatusCommand(env *environment) *cobra.Command {
	var corpID string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show a corp's binding: state, each permission, last runs",
		Example: "  starter status --corp-id dingcorp1\n  starter status --corp-id dingcorp1 --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			b, err := st.GetBinding(cmd.Context(), corpID)
			if err != nil {
				return err
			}
			runs, err := st.ListRuns(cmd.Context(), corpID, 5)
			if err != nil {
				return err
			}
			snaps, err := st.ListSnapshots(cmd.Context(), corpID)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(statusJSON(b, runs, snaps))
			}
			printStatus(cmd.OutOrStdout(), b, runs, snaps)
			return nil
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "the corp (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func statusJSON(b store.Binding, runs []store.Run, snaps []store.Snapshot) map[string]any {
	return map[string]any{"corp_id": b.CorpID, "app_key": b.AppKey, "agent_id": b.AgentID.Int64, "status": b.Status,
		"reason": b.StatusReason.String, "callback_url": b.CallbackURL.String, "permissions": b.Permissions,
		"verified_at": nullTime(b.VerifiedAt.Valid, b.VerifiedAt.Time), "authorized_by": b.AuthorizedBy.String,
		"last_runs": runs, "snapshots": snaps}
}

func nullTime(valid bool, t time.Time) any {
	if !valid {
		return nil
	}
	return t
}

func printStatus(out io.Writer, b store.Binding, runs []store.Run, snaps []store.Snapshot) {
	fmt.Fprintf(out, "corp %s: %s\n", b.CorpID, b.Status)
	if b.StatusReason.Valid {
		fmt.Fprintf(out, "  why: %s\n", b.StatusReason.String)
	}
	events := orDefault(b.CallbackURL.String, "not configured (bind with --callback-url or --event-intake stream)")
	if b.EventIntake == store.EventIntakeStream {
		events = "Stream mode (a worker holds the connection)"
	}
	fmt.Fprintf(out, "  app %s, agent %d, events: %s\n", b.AppKey, b.AgentID.Int64, events)
	if b.AuthorizedBy.Valid {
		fmt.Fprintf(out, "  authorized by %s at %s\n", b.AuthorizedBy.String, b.AuthorizedAt.Time.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPERMISSION\tFEATURE\tSTATE\tFIX")
	for _, p := range b.Permissions {
		state := "granted"
		if !p.Granted {
			state = "MISSING"
			if p.Required {
				state = "MISSING (required)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Permission, p.Feature, state, p.Fix)
	}
	tw.Flush()
	if len(b.Permissions) == 0 {
		fmt.Fprintln(out, "  (not verified yet)")
	}
	fmt.Fprintln(out, "\nLAST RUNS")
	for _, r := range runs {
		fmt.Fprintf(out, "  run %d %s %s, %d employees, started %s\n", r.ID, r.Kind, r.Status, r.EmployeesSeen, r.StartedAt.Local().Format("2006-01-02 15:04"))
	}
	for _, s := range snaps {
		fmt.Fprintf(out, "snapshot %d (%s, %s): %d employees, %d departments\n", s.ID, s.Reason, s.TakenAt.Local().Format("2006-01-02 15:04"), s.Employees, s.Departments)
	}
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func newSnapshotCommand(env *environment) *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "List or restore the HR snapshots taken before binding"}
	var corpID, by string
	var id int64
	list := &cobra.Command{
		Use: "list", Short: "List a corp's snapshots",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			snaps, err := st.ListSnapshots(cmd.Context(), corpID)
			if err != nil {
				return err
			}
			for _, s := range snaps {
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\t%d employees\t%d departments\n", s.ID, s.TakenAt.Local().Format(time.RFC3339), s.Reason, s.Employees, s.Departments)
			}
			return nil
		},
	}
	restore := &cobra.Command{
		Use:   "restore",
		Short: "Put a corp's HR rows back as they were when the snapshot was taken",
		Long: `restore replaces the corp's employees, departments and memberships with the snapshot's,
in one transaction. The audit trail and sync log are kept; the restore is in the ops log.
Pause the corp first, or the next sync brings DingTalk's state back.`,
		Example: "  starter pause --corp-id dingcorp1 && starter snapshot restore --corp-id dingcorp1 --snapshot-id 3",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			if id <= 0 {
				return fmt.Errorf("%w: --snapshot-id is required: list them with `starter snapshot list --corp-id %s`", errUsage, corpID)
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			snap, err := st.RestoreSnapshot(cmd.Context(), corpID, id, by)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored snapshot %d of corp %s: %d employees, %d departments\n", snap.ID, corpID, snap.Employees, snap.Departments)
			return nil
		},
	}
	for _, c := range []*cobra.Command{list, restore} {
		c.Flags().StringVar(&corpID, "corp-id", "", "the corp (required)")
	}
	restore.Flags().Int64Var(&id, "snapshot-id", 0, "the snapshot to restore (required)")
	restore.Flags().StringVar(&by, "by", currentUser(), "who restores, for the ops log")
	cmd.AddCommand(list, restore)
	return cmd
}
