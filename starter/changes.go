package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

func newChangesCommand(env *environment) *cobra.Command {
	f := store.ChangeFilter{}
	var userID, deptID string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "Show the audit trail: what a run changed, or every change to one employee or department",
		Example: `  starter changes --run-id 42
  starter changes --corp-id dingcorp1 --userid manager4521 --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case userID != "":
				f.Entity, f.RecordID = "employee", userID
			case deptID != "":
				f.Entity, f.RecordID = "department", deptID
			}
			if f.RunID == 0 && (f.CorpID == "" || f.RecordID == "") {
				return fmt.Errorf("%w: give --run-id, or --corp-id with --userid or --dept-id", errUsage)
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			changes, err := st.ListChanges(cmd.Context(), f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(changes)
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tENTITY\tRECORD\tOP\tFIELDS\tWHEN")
			for _, c := range changes {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.RunID, c.Entity, c.RecordID, c.Op,
					strings.Join(c.ChangedFields, ","), c.ChangedAt.Local().Format("2006-01-02 15:04:05"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(changes) == f.Limit {
				fmt.Fprintf(out, "(first %d shown; use --limit or --json for more)\n", f.Limit)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&f.RunID, "run-id", 0, "changes made by this run")
	cmd.Flags().StringVar(&f.CorpID, "corp-id", "", "the corp of --userid / --dept-id")
	cmd.Flags().StringVar(&userID, "userid", "", "every change to this employee (DingTalk userid)")
	cmd.Flags().StringVar(&deptID, "dept-id", "", "every change to this department")
	cmd.Flags().IntVar(&f.Limit, "limit", 200, "how many changes to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, with before and after of each change")
	return cmd
}
