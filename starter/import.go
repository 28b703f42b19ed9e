package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

type importFlags struct {
	corpID, from, to, trigger string
	wait, asJSON              bool
}

const importLong = `import copies HR data beyond the org chart from DingTalk into the HR store, as the workflow
import/<kind>/<corp> (one per corp and kind at a time):

  attendance  clock-in records (/attendance/list) into attendance_records, one row per DingTalk
              record id: who, work date, OnDuty/OffDuty, Normal/Late/Early/NotSigned, when.
              Read in windows of 7 work dates x 50 employees (those the HR store holds: run a full
              sync first), 50 records a call.
  approvals   approval instances of every approval form (instanceIds/query, then one detail call
              per instance) into approval_instances, with status, result, originator, times and
              form values; leave requests (forms with DingTalk's leave control) also into
              leave_requests, typed. Instances stored as finished are not read again; running ones
              are re-read until they finish.

Without --from/--to an import is incremental: attendance from the day after the watermark up to
yesterday (today is not over), approvals from the watermark (less an hour) to now, at most 31 days
back; the first import reads the last 31 days. With --from/--to (yyyy-MM-dd, Beijing time,
inclusive) it backfills that range; a backfill that joins the watermark moves it. Re-importing
changes nothing; a record or instance that changed in DingTalk updates its row.

Cost: DingTalk counts these calls against the standard edition's 5,000 calls a month. Attendance
costs one call per 50 records in each window of 50 employees x 7 dates: imported daily, about one
call per employee a month. Approvals cost one call per form and window, one per 20 instances
listed, and one per instance read (new, or still running). Every bound corp imports both daily at 04:MM (schedule/import/<corp>); change or stop it with
'starter schedules update --import-cron SPEC|off'.`

func newImportCommand(env *environment) *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import attendance records and approval instances (leave included) into the HR store",
		Long:  importLong,
		Example: `  starter import attendance --corp-id dingcorp1 --wait
  starter import attendance --corp-id dingcorp1 --from 2025-03-01 --to 2025-03-31 --wait --json
  starter import approvals --corp-id dingcorp1 --wait
  starter import status --corp-id dingcorp1`,
	}
	for _, kind := range workflows.ImportKinds {
		c := &cobra.Command{
			Use:   kind,
			Short: "Import the corp's " + kind + " (incremental, or a backfill with --from/--to)",
			Long:  importLong,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runImport(cmd, env, f, kind) },
		}
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
		c.Flags().StringVar(&f.from, "from", "", "backfill from this date (yyyy-MM-dd, Beijing time); needs --to")
		c.Flags().StringVar(&f.to, "to", "", "backfill up to this date, inclusive (yyyy-MM-dd); needs --from")
		c.Flags().BoolVar(&f.wait, "wait", false, "follow the import until it ends and print what it did")
		c.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
		c.Flags().StringVar(&f.trigger, "trigger", "manual", "what started the import, for the import log")
		cmd.AddCommand(c)
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the corp's import watermarks and latest import runs",
		RunE:  func(cmd *cobra.Command, _ []string) error { return importStatus(cmd, env, f) },
	}
	status.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	status.Flags().BoolVar(&f.asJSON, "json", false, "print the state as JSON")
	cmd.AddCommand(status)
	return cmd
}

// checkDates refuses a half-given or malformed backfill range.
func (f *importFlags) checkDates() error {
	if (f.from == "") != (f.to == "") {
		return fmt.Errorf("%w: give both --from and --to (a backfill), or neither (an incremental import)", errUsage)
	}
	if f.from == "" {
		return nil
	}
	from, err1 := time.Parse(time.DateOnly, f.from)
	to, err2 := time.Parse(time.DateOnly, f.to)
	switch {
	case err1 != nil || err2 != nil:
		return fmt.Errorf("%w: --from %q and --to %q must be dates like 2025-03-01", errUsage, f.from, f.to)
	case to.Before(from):
		return fmt.Errorf("%w: --to %s is before --from %s", errUsage, f.to, f.from)
	}
	return nil
}

func runImport(cmd *cobra.Command, env *environment, f *importFlags, kind string) error {
	ctx := cmd.Context()
	if err := f.checkDates(); err != nil {
		return err
	}
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	run, err := launch{what: kind + " import", id: workflows.ImportWorkflowID(kind, f.corpID), corpID: f.corpID,
		kind: workflows.ImportSyncKind(kind), wf: workflows.Import,
		input: workflows.ImportInput{CorpID: f.corpID, Kind: kind, Trigger: f.trigger, From: f.from, To: f.to}}.start(ctx, env, c)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !f.wait {
		return printStarted(out, f.asJSON, run)
	}
	if !f.asJSON {
		fmt.Fprintf(out, "import of %s for %s started (workflow %s, run %s)\n", kind, f.corpID, run.GetID(), run.GetRunID())
	}
	res, err := followImport(ctx, out, st, run, f.corpID, kind, !f.asJSON)
	if err != nil {
		return err
	}
	if f.asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	printImportSummary(out, res)
	return nil
}

// followImport prints the import's progress, as the store records it, every few seconds until
// the workflow ends, and returns its result.
func followImport(ctx context.Context, out io.Writer, st *store.Store, run client.WorkflowRun, corpID, kind string, show bool) (workflows.ImportResult, error) {
	done := make(chan error, 1)
	var res workflows.ImportResult
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last string
	var lastPrinted time.Time
	for {
		select {
		case err := <-done:
			if err != nil {
				return res, fmt.Errorf("import failed: %s", workflows.FailureMessage(err))
			}
			return res, nil
		case <-ctx.Done():
			return res, fmt.Errorf("stopped following (the import goes on in Temporal): %w", ctx.Err())
		case <-tick.C:
		}
		state, ok, err := st.GetImportState(ctx, corpID, kind)
		if err != nil || !ok || !show || state.Status != store.ImportRunning || state.Progress == "" {
			continue
		}
		line := fmt.Sprintf("%s  read %d  new %d  changed %d  API calls %d", state.Progress, state.Fetched, state.Inserted,
			state.Updated, state.APICalls)
		if line != last && time.Since(lastPrinted) >= 2*time.Second {
			fmt.Fprintln(out, line)
			last, lastPrinted = line, time.Now()
		}
	}
}

func printImportSummary(out io.Writer, r workflows.ImportResult) {
	if r.Skipped != "" {
		fmt.Fprintf(out, "import of %s for %s skipped: %s\n", r.Kind, r.CorpID, r.Skipped)
		return
	}
	if r.Windows == 0 && r.Kind == workflows.ImportAttendance {
		fmt.Fprintf(out, "attendance of %s is up to date (watermark %s): nothing to read before today\n", r.CorpID, r.Watermark)
		return
	}
	what := "records"
	if r.Kind == workflows.ImportApprovals {
		what = fmt.Sprintf("instances (%d leave requests)", r.Leaves)
	}
	fmt.Fprintf(out, "imported %s of %s, %s..%s in %d windows: %d %s read, %d new, %d changed, %d unchanged; %d DingTalk API calls (%d throttled)\n",
		r.Kind, r.CorpID, r.From, r.To, r.Windows, r.Fetched, what, r.Inserted, r.Updated, r.Fetched-r.Inserted-r.Updated,
		r.APICalls, r.Throttled)
	if r.Kind == workflows.ImportApprovals {
		fmt.Fprintf(out, "%d listed instances were stored as finished already and not read again; %d are gone from DingTalk\n",
			r.SkippedFinished, r.Missing)
	}
	if r.Watermark != "" {
		fmt.Fprintf(out, "watermark: %s (the next incremental import starts there)\n", r.Watermark)
	}
	if r.Note != "" {
		fmt.Fprintln(out, "note:", r.Note)
	}
}

// importStateJSON is an import state as `import status --json` prints it.
type importStateJSON struct {
	Kind       string `json:"kind"`
	Watermark  string `json:"watermark,omitempty"`
	Status     string `json:"status"`
	Trigger    string `json:"trigger"`
	WorkflowID string `json:"workflow_id"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Fetched    int64  `json:"fetched"`
	Inserted   int64  `json:"inserted"`
	Updated    int64  `json:"updated"`
	APICalls   int64  `json:"api_calls"`
	Error      string `json:"error,omitempty"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at,omitempty"`
}

func importStatus(cmd *cobra.Command, env *environment, f *importFlags) error {
	ctx := cmd.Context()
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	st, err := env.store(ctx)
	if err != nil {
		return err
	}
	if _, err := st.GetBinding(ctx, f.corpID); err != nil {
		return err
	}
	states, err := st.ImportStates(ctx, f.corpID)
	if err != nil {
		return err
	}
	rows := make([]importStateJSON, 0, len(states))
	for _, s := range states {
		rows = append(rows, importStateJSON{Kind: s.Kind, Watermark: stamp(s.Kind, s.Watermark.Time), Status: s.Status,
			Trigger: s.Trigger, WorkflowID: s.WorkflowID, From: stamp(s.Kind, s.RangeFrom.Time), To: stamp(s.Kind, s.RangeTo.Time),
			Fetched: s.Fetched, Inserted: s.Inserted, Updated: s.Updated, APICalls: s.APICalls, Error: s.Error.String,
			StartedAt: s.StartedAt.Format(time.RFC3339), FinishedAt: stamp("", s.FinishedAt.Time)})
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return json.NewEncoder(out).Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(out, "no imports of %s yet: run `starter import attendance --corp-id %s --wait`\n", f.corpID, f.corpID)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tWATERMARK\tLAST RUN\tSTATUS\tRANGE\tREAD\tNEW\tCHANGED\tAPI CALLS\tERROR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s..%s\t%d\t%d\t%d\t%d\t%s\n", r.Kind, dash(r.Watermark), r.StartedAt, r.Status,
			r.From, r.To, r.Fetched, r.Inserted, r.Updated, r.APICalls, dash(r.Error))
	}
	return tw.Flush()
}

// stamp renders an import time: a Beijing date for attendance, an RFC 3339 time otherwise.
func stamp(kind string, t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case kind == workflows.ImportAttendance:
		return t.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
