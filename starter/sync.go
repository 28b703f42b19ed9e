package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

type syncFlags struct {
	corpID, trigger string
	wait, asJSON    bool
}

func newSyncCommand(env *environment) *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Run syncs of a corp's org chart"}
	f := &syncFlags{}
	full := &cobra.Command{
		Use:   "full",
		Short: "Copy the corp's whole DingTalk org chart into the HR store",
		Long: `sync full starts the workflow fullsync/<corp>: it reads every department and employee from
DingTalk into staging (at DingTalk's rate limits), then applies the differences to the HR store in
one transaction. Unchanged records are not touched; every change is in the audit trail
(starter changes). One full sync per corp runs at a time: a second start is refused.

If the apply would deactivate more people than the binding's deletion guard allows, the run
waits for 'starter deletions approve|reject'.`,
		Example: `  starter sync full --corp-id dingcorp1 --wait
  starter sync full --corp-id dingcorp1 --json   # start and print the ids`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSyncFull(cmd, env, f) },
	}
	full.Flags().StringVar(&f.corpID, "corp-id", "", "the corp to sync (required)")
	full.Flags().BoolVar(&f.wait, "wait", false, "follow the run's progress until it ends")
	full.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	full.Flags().StringVar(&f.trigger, "trigger", "manual", "what started the run, for the sync log")
	cmd.AddCommand(full)
	return cmd
}

func runSyncFull(cmd *cobra.Command, env *environment, f *syncFlags) error {
	ctx := cmd.Context()
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	run, err := launch{what: "full sync", id: workflows.FullSyncWorkflowID(f.corpID), corpID: f.corpID, kind: workflows.KindFull,
		wf: workflows.FullSync, input: workflows.FullSyncInput{CorpID: f.corpID, Trigger: f.trigger}}.start(ctx, env, c)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !f.wait {
		return printStarted(out, f.asJSON, run)
	}
	if !f.asJSON {
		fmt.Fprintf(out, "full sync of %s started (workflow %s, run %s)\n", f.corpID, run.GetID(), run.GetRunID())
	}
	res, err := follow[workflows.FullSyncResult](ctx, out, st, run, !f.asJSON, "full sync")
	if err != nil {
		return err
	}
	if f.asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	printSummary(out, res)
	return nil
}

func printStarted(out io.Writer, asJSON bool, run client.WorkflowRun) error {
	if asJSON {
		return json.NewEncoder(out).Encode(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
	}
	fmt.Fprintf(out, "started workflow %s (run %s); follow it with `starter runs` or in the Temporal UI\n", run.GetID(), run.GetRunID())
	return nil
}

// follow prints the progress of a run (a full sync, an audit: what) until the workflow ends,
// and returns its result. On a terminal one line is redrawn every second; otherwise a line is
// printed on every phase change and every 5 s, so logs stay readable.
func follow[R any](ctx context.Context, out io.Writer, st *store.Store, run client.WorkflowRun, show bool, what string) (R, error) {
	done := make(chan error, 1)
	var res R
	go func() { done <- run.Get(ctx, &res) }()
	tty := isTerminal(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last store.Run
	var lastPrinted time.Time
	for {
		select {
		case err := <-done:
			if show && tty {
				fmt.Fprintln(out)
			}
			if err != nil {
				return res, fmt.Errorf("%s failed: %s", what, workflows.FailureMessage(err))
			}
			return res, nil
		case <-ctx.Done():
			return res, fmt.Errorf("stopped following (the %s goes on in Temporal): %w", what, ctx.Err())
		case <-tick.C:
		}
		r, err := st.LatestRun(ctx, run.GetID(), run.GetRunID())
		if err != nil || !show {
			continue
		}
		line := fmt.Sprintf("%-18s departments %6d  employee rows %7d  API calls %7d  throttled %d  %s",
			r.Phase, r.DepartmentsSeen, r.EmployeesSeen, r.APICalls, r.Throttled, r.Duration(time.Now()).Round(time.Second))
		switch {
		case tty:
			fmt.Fprintf(out, "\r%s   ", line)
		case r.Phase != last.Phase || time.Since(lastPrinted) >= 5*time.Second:
			fmt.Fprintln(out, line)
			lastPrinted = time.Now()
		}
		if r.Status == store.RunAwaitingApproval && last.Status != r.Status {
			fmt.Fprintf(out, "\nthe deletion guard holds %d deactivations: decide with `starter deletions approve|reject --corp-id %s --by NAME`\n",
				r.PendingDeletions, r.CorpID)
		}
		last = r
	}
}

// isTerminal reports whether w is a character device (an interactive terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func printSummary(out io.Writer, r workflows.FullSyncResult) {
	fmt.Fprintf(out, "run %d %s: %d departments (%d changed), %d employees: %d created, %d updated, %d deactivated; %d record errors; %d DingTalk API calls (%d throttled)\n",
		r.RunID, r.Status, r.Departments, r.DepartmentsChanged, r.Employees, r.Created, r.Updated, r.Deactivated,
		r.RecordErrors, r.APICalls, r.Throttled)
	if r.RecordErrors > 0 {
		fmt.Fprintf(out, "see what failed: starter runs --run-id %d\n", r.RunID)
	}
	fmt.Fprintf(out, "see what changed: starter changes --run-id %d\n", r.RunID)
}
