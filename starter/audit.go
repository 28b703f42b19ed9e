package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

type auditFlags struct {
	corpID               string
	repair, wait, asJSON bool
	findings             int
}

func newAuditCommand(env *environment) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the HR store against DingTalk, and repair the drift"}
	f := &auditFlags{}
	run := &cobra.Command{
		Use:   "run",
		Short: "Compare the corp's HR store with DingTalk now",
		Long: `audit run starts the workflow audit/<corp>: it reads the corp's whole org from DingTalk (at
DingTalk's rate limits) without applying it, compares it with the HR store record by record
and writes an audit report: employees missing from the store, extra in the store, fields that
differ (with both values), memberships and departments that differ. Records an event changed
while the audit ran are counted apart, not as drift.

With --repair (or the binding's audit_repair setting) drift found is applied by a run of kind
repair, through the deletion guard, after the audit. Scheduled audits run daily by themselves:
see 'starter schedules'.`,
		Example: `  starter audit run --corp-id dingcorp1 --wait
  starter audit run --corp-id dingcorp1 --repair --wait --json`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAudit(cmd, env, f) },
	}
	run.Flags().StringVar(&f.corpID, "corp-id", "", "the corp to audit (required)")
	run.Flags().BoolVar(&f.repair, "repair", false, "repair the drift found through a repair run")
	run.Flags().BoolVar(&f.wait, "wait", false, "follow the audit until it ends and show its report")
	run.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	show := &cobra.Command{
		Use:     "show",
		Short:   "Show the corp's latest audit report with its findings",
		Example: "  starter audit show --corp-id dingcorp1\n  starter audit show --corp-id dingcorp1 --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(f.corpID); err != nil {
				return err
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			return showAudit(cmd.OutOrStdout(), st, cmd, f)
		},
	}
	show.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	show.Flags().BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	show.Flags().IntVar(&f.findings, "findings", 10, "findings to print per kind (the report keeps up to 200)")
	cmd.AddCommand(run, show)
	return cmd
}

func runAudit(cmd *cobra.Command, env *environment, f *auditFlags) error {
	ctx := cmd.Context()
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	run, err := launch{what: "audit", id: workflows.AuditWorkflowID(f.corpID), corpID: f.corpID, kind: workflows.KindAudit,
		wf: workflows.Audit, input: workflows.AuditInput{CorpID: f.corpID, Repair: f.repair},
		then: "then `starter audit show --corp-id " + f.corpID + "`"}.start(ctx, env, c)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !f.wait {
		return printStarted(out, f.asJSON, run)
	}
	if !f.asJSON {
		fmt.Fprintf(out, "audit of %s started (workflow %s, run %s)\n", f.corpID, run.GetID(), run.GetRunID())
	}
	res, err := follow[workflows.AuditResult](ctx, out, st, run, !f.asJSON, "audit")
	if err != nil {
		return err
	}
	if f.asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "audit run %d: %s\n", res.RunID, driftLine(res.Drift, res.Total))
	switch {
	case res.RepairRunID > 0:
		fmt.Fprintf(out, "repair run %d %s; see what it changed: starter changes --run-id %d\n", res.RepairRunID, res.RepairStatus, res.RepairRunID)
	case res.RepairNote != "":
		fmt.Fprintln(out, res.RepairNote)
	}
	fmt.Fprintf(out, "see the findings: starter audit show --corp-id %s\n", f.corpID)
	return nil
}

// driftLine says what drift was found, kind by kind, or that there was none.
func driftLine(drift map[string]int, total int) string {
	if total == 0 {
		return "no drift: the HR store matches DingTalk"
	}
	var parts []string
	for _, k := range store.DriftKinds {
		if drift[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", drift[k], k))
		}
	}
	return fmt.Sprintf("%d drifted records: %s", total, strings.Join(parts, ", "))
}

func showAudit(out io.Writer, st *store.Store, cmd *cobra.Command, f *auditFlags) error {
	rep, err := st.LatestAudit(cmd.Context(), f.corpID)
	if err != nil {
		return err
	}
	if rep == nil {
		return fmt.Errorf("corp %s has no audit yet: run `starter audit run --corp-id %s --wait`", f.corpID, f.corpID)
	}
	if f.asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "audit report %d of %s (run %d, %s)\n", rep.ID, rep.CorpID, rep.RunID, rep.CreatedAt.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(out, "DingTalk: %d employees, %d departments; store: %d active employees, %d active departments\n",
		rep.DingTalkEmployees, rep.DingTalkDepartments, rep.StoreEmployees, rep.StoreDepartments)
	fmt.Fprintln(out, driftLine(rep.Drift, rep.Drift.Total()))
	if rep.UnreadableDepts > 0 {
		fmt.Fprintf(out, "%d departments could not be read and were not judged: starter runs --run-id %d\n", rep.UnreadableDepts, rep.RunID)
	}
	if rep.ChangedDuringAudit > 0 {
		fmt.Fprintf(out, "%d records changed by events while the audit ran were not judged\n", rep.ChangedDuringAudit)
	}
	if rep.RepairRunID != nil {
		fmt.Fprintf(out, "repaired by run %d: starter changes --run-id %d\n", *rep.RepairRunID, *rep.RepairRunID)
	}
	shown := map[string]int{}
	for _, fd := range rep.Findings {
		if shown[fd.Kind]++; shown[fd.Kind] > f.findings {
			continue
		}
		fmt.Fprintf(out, "  %-19s %s %s: %s\n", fd.Kind, fd.Entity, fd.RecordID, fd.Reason)
		if len(fd.Fields) > 0 {
			fmt.Fprintf(out, "  %-19s   store %s; DingTalk %s\n", "", fd.InStore, fd.InDingTalk)
		}
	}
	return nil
}
