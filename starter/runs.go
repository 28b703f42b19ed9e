package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newRunsCommand(env *environment) *cobra.Command {
	var corpID string
	var runID int64
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Show the sync log: recent runs, or one run with its record errors",
		Example: `  starter runs --corp-id dingcorp1
  starter runs --run-id 42 --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if runID > 0 {
				run, err := st.GetRun(cmd.Context(), runID)
				if err != nil {
					return err
				}
				errs, err := st.ListRecordErrors(cmd.Context(), runID)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(out).Encode(map[string]any{"run": run, "error": run.Error.String,
						"record_errors": errs})
				}
				fmt.Fprintf(out, "run %d of %s (%s, %s): %s, phase %s\n", run.ID, run.CorpID, run.Kind, run.Trigger, run.Status, run.Phase)
				fmt.Fprintf(out, "workflow %s run %s, started %s, took %s\n", run.WorkflowID, run.TemporalRunID,
					run.StartedAt.Format(time.RFC3339), run.Duration(time.Now()).Round(time.Millisecond))
				fmt.Fprintf(out, "seen %d departments, %d employees; %d created, %d updated, %d deactivated, %d departments changed; %d API calls\n",
					run.DepartmentsSeen, run.EmployeesSeen, run.Created, run.Updated, run.Deactivated, run.DepartmentsChanged, run.APICalls)
				if run.Error.Valid {
					fmt.Fprintf(out, "why: %s\n", run.Error.String)
				}
				for _, e := range errs {
					fmt.Fprintf(out, "  %s %s: %s\n", e.Entity, e.RecordID, e.Message)
				}
				return nil
			}
			runs, err := st.ListRuns(cmd.Context(), corpID, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(out).Encode(runs)
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tCORP\tKIND\tSTATUS\tSTARTED\tDURATION\tEMPLOYEES\tCREATED\tUPDATED\tDEACTIVATED\tERRORS\tAPI CALLS")
			for _, r := range runs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.CorpID, r.Kind, r.Status,
					r.StartedAt.Local().Format("2006-01-02 15:04:05"), r.Duration(time.Now()).Round(time.Millisecond),
					r.EmployeesSeen, r.Created, r.Updated, r.Deactivated, r.RecordErrors, r.APICalls)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "only this corp's runs")
	cmd.Flags().Int64Var(&runID, "run-id", 0, "show one run in detail, with its record errors")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
