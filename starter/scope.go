package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

func newScopeCommand(env *environment) *cobra.Command {
	var corpID, by, level string
	var include, exclude []int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scope",
		Short: "Show or set which department subtrees and what level of the org a corp syncs",
		Long: `A binding syncs the whole org with its employees unless its scope says otherwise:
  --include D,...   sync only these departments' subtrees (default: the whole org)
  --exclude D,...   leave these subtrees out (alone, it means "the whole org but these")
  --level org       the department tree only: employees are left as they are
  --level employees departments and employees (the default)
What leaves the scope is deactivated softly by the next full sync, under the deletion guard
(more than 10% or 50 people waits for 'starter deletions approve'); events for employees
outside the scope are not applied, and an employee who moves out of it is deactivated.`,
		Example: `  starter scope --corp-id dingcorp1
  starter scope --corp-id dingcorp1 --exclude 7,12 --by alice && starter sync full --corp-id dingcorp1 --wait
  starter scope --corp-id dingcorp1 --include 3 --level org --by alice`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			sc, err := st.GetScope(cmd.Context(), corpID)
			if err != nil {
				return err
			}
			changed := false
			for _, f := range []struct {
				name string
				set  func()
			}{{"include", func() { sc.Include = include }}, {"exclude", func() { sc.Exclude = exclude }}, {"level", func() { sc.Level = level }}} {
				if cmd.Flags().Changed(f.name) {
					f.set()
					changed = true
				}
			}
			if changed {
				if by == "" {
					return fmt.Errorf("%w: --by is required to change the scope: say who, for the ops log", errUsage)
				}
				if err := sc.Validate(); err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				if err := st.SetScope(cmd.Context(), corpID, by, sc); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(sc)
			}
			printScope(out, sc)
			if changed {
				fmt.Fprintf(out, "the next full sync applies it: starter sync full --corp-id %s --wait\n", corpID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "the corp (required)")
	cmd.Flags().Int64SliceVar(&include, "include", nil, "department ids whose subtrees are synced (none: the whole org)")
	cmd.Flags().Int64SliceVar(&exclude, "exclude", nil, "department ids whose subtrees are left out")
	cmd.Flags().StringVar(&level, "level", "", "org (departments only) or employees (the default)")
	cmd.Flags().StringVar(&by, "by", "", "who changes the scope, for the ops log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the scope as JSON")
	return cmd
}

func printScope(out interface{ Write([]byte) (int, error) }, sc store.Scope) {
	level := "departments and employees"
	if !sc.Employees() {
		level = "departments only"
	}
	fmt.Fprintf(out, "subtrees: %v", sc.Roots())
	if len(sc.Include) == 0 {
		fmt.Fprint(out, " (the whole org)")
	}
	if len(sc.Exclude) > 0 {
		fmt.Fprintf(out, ", except %v", sc.Exclude)
	}
	fmt.Fprintf(out, "; level: %s\n", level)
}
