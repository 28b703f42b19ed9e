package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
)

type schedulesFlags struct {
	corpID, kind, note, by  string
	auditCron, fullSyncCron string
	importCron              string
	auditRepair, asJSON     bool
}

func newSchedulesCommand(env *environment) *cobra.Command {
	f := &schedulesFlags{}
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "List, pause, trigger and change a corp's audit and full sync schedules",
		Long: `Every bound corp has two Temporal Schedules, created when it is bound and deleted when it
is unbound: a daily consistency audit (schedule/audit/<corp>) and a nightly safety-net full sync
(schedule/fullsync/<corp>). By default they run at 02:MM and 03:MM (DINGSYNC_SCHEDULE_TIMEZONE,
default Asia/Shanghai), MM drawn from the corp id between :07 and :51, never on the hour.
A run is skipped while the corp's previous one still runs, and a run missed by more than an
hour (the server was down) is not caught up. The schedules live in Temporal: they survive
worker restarts, and show in the Temporal UI under Schedules.

A third schedule, schedule/import/<corp>, imports attendance and approvals at 04:MM (see
'starter import --help'; it skips a kind whose permission the app lacks). DingTalk counts those
calls against the standard edition's 5,000 a month: --import-cron sets it, e.g. weekly, or off.`,
		Example: `  starter schedules list --corp-id dingcorp1
  starter schedules trigger --corp-id dingcorp1 --kind audit
  starter schedules pause --corp-id dingcorp1 --kind fullsync --note "HR migration this week"
  starter schedules update --corp-id dingcorp1 --audit-cron "17 6 * * 1-5" --audit-repair --by alice
  starter schedules update --corp-id dingcorp1 --fullsync-cron off --by alice
  starter schedules update --corp-id dingcorp1 --import-cron "23 4 * * 1" --by alice   # weekly`,
	}
	list := &cobra.Command{
		Use: "list", Short: "Show the corp's schedules (every bound corp's without --corp-id)",
		RunE: func(cmd *cobra.Command, _ []string) error { return listSchedules(cmd, env, f) },
	}
	list.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (default: every bound corp)")
	list.Flags().BoolVar(&f.asJSON, "json", false, "print the schedules as JSON")
	pause := &cobra.Command{
		Use: "pause", Short: "Pause the corp's schedules (both, or --kind)",
		RunE: func(cmd *cobra.Command, _ []string) error { return pauseSchedules(cmd, env, f, true) },
	}
	unpause := &cobra.Command{
		Use: "unpause", Short: "Unpause the corp's schedules (both, or --kind)",
		RunE: func(cmd *cobra.Command, _ []string) error { return pauseSchedules(cmd, env, f, false) },
	}
	for _, c := range []*cobra.Command{pause, unpause} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
		c.Flags().StringVar(&f.kind, "kind", "", "audit, fullsync or import (default: all)")
		c.Flags().StringVar(&f.note, "note", "", "why, shown with the schedule")
	}
	trigger := &cobra.Command{
		Use: "trigger", Short: "Run one of the corp's schedules now",
		RunE: func(cmd *cobra.Command, _ []string) error { return triggerSchedule(cmd, env, f) },
	}
	trigger.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	trigger.Flags().StringVar(&f.kind, "kind", "", "audit, fullsync or import (required)")
	update := &cobra.Command{
		Use: "update", Short: "Change when the corp's schedules run, and whether audits repair",
		RunE: func(cmd *cobra.Command, _ []string) error { return updateSchedules(cmd, env, f) },
	}
	update.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	update.Flags().StringVar(&f.auditCron, "audit-cron", "", `when audits run: "minute hour dom month dow", "default" or "off"`)
	update.Flags().StringVar(&f.fullSyncCron, "fullsync-cron", "", `when full syncs run: "minute hour dom month dow", "default" or "off"`)
	update.Flags().StringVar(&f.importCron, "import-cron", "", `when attendance and approvals are imported: "minute hour dom month dow", "default" or "off"`)
	update.Flags().BoolVar(&f.auditRepair, "audit-repair", false, "scheduled audits repair the drift they find (--audit-repair=false: report only)")
	update.Flags().StringVar(&f.by, "by", "", "who changes them, for the ops log (required)")
	cmd.AddCommand(list, pause, unpause, trigger, update)
	return cmd
}

func (f *schedulesFlags) checkKind(required bool) error {
	switch {
	case f.kind == "" && !required:
		return nil
	case slices.Contains(schedules.AllKinds, f.kind):
		return nil
	}
	return fmt.Errorf("%w: --kind must be %q, %q or %q", errUsage, schedules.KindAudit, schedules.KindFullSync, schedules.KindImport)
}

func listSchedules(cmd *cobra.Command, env *environment, f *schedulesFlags) error {
	ctx := cmd.Context()
	st, err := env.store(ctx)
	if err != nil {
		return err
	}
	corps := []string{f.corpID}
	if f.corpID == "" {
		statuses, err := st.BindingStatuses(ctx)
		if err != nil {
			return err
		}
		corps = corps[:0]
		for corp, status := range statuses {
			if status != store.BindingUnbound {
				corps = append(corps, corp)
			}
		}
		slices.Sort(corps)
	} else if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	m := env.config().Schedules(c)
	var all []schedules.Info
	for _, corp := range corps {
		infos, err := m.Describe(ctx, corp)
		if err != nil {
			return err
		}
		all = append(all, infos...)
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return json.NewEncoder(out).Encode(all)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tCRON\tZONE\tSTATE\tNEXT RUN\tLAST RUN\tRUNS\tSKIPPED")
	for _, s := range all {
		if !s.Exists {
			fmt.Fprintf(tw, "%s\t-\t-\toff\t-\t-\t-\t-\n", s.ID)
			continue
		}
		state := "active"
		if s.Paused {
			state = "paused"
			if s.Note != "" {
				state += " (" + s.Note + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.ID, s.Cron, s.TimeZone, state, when(s.NextRun), when(s.LastRun), s.Runs, s.Skipped)
	}
	return tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04 MST")
}

func pauseSchedules(cmd *cobra.Command, env *environment, f *schedulesFlags, paused bool) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if err := f.checkKind(false); err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	var kinds []string
	if f.kind != "" {
		kinds = []string{f.kind}
	}
	if err := env.config().Schedules(c).SetPaused(cmd.Context(), f.corpID, paused, f.note, kinds...); err != nil {
		return err
	}
	verb := map[bool]string{true: "paused", false: "unpaused"}[paused]
	fmt.Fprintf(cmd.OutOrStdout(), "%s the schedules of %s; see them with `starter schedules list --corp-id %s`\n", verb, f.corpID, f.corpID)
	return nil
}

func triggerSchedule(cmd *cobra.Command, env *environment, f *schedulesFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if err := f.checkKind(true); err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	if err := env.config().Schedules(c).Trigger(cmd.Context(), f.corpID, f.kind); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "triggered %s: follow it with `starter runs --corp-id %s`\n", schedules.ID(f.kind, f.corpID), f.corpID)
	return nil
}

func updateSchedules(cmd *cobra.Command, env *environment, f *schedulesFlags) error {
	ctx := cmd.Context()
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.by == "" {
		return fmt.Errorf("%w: --by is required: say who changes the schedules, for the ops log", errUsage)
	}
	var in store.ScheduleSettings
	for _, opt := range []struct {
		flag string
		val  string
		dst  **string
	}{{"audit-cron", f.auditCron, &in.AuditCron}, {"fullsync-cron", f.fullSyncCron, &in.FullSyncCron},
		{"import-cron", f.importCron, &in.ImportCron}} {
		if !cmd.Flags().Changed(opt.flag) {
			continue
		}
		v := opt.val
		if v == "default" {
			v = ""
		} else if v == "" {
			return fmt.Errorf("%w: --%s needs a cron spec, \"default\" or %q", errUsage, opt.flag, schedules.Off)
		}
		if err := schedules.ValidateCron(v); err != nil {
			return fmt.Errorf("%w: --%s: %v", errUsage, opt.flag, err)
		}
		*opt.dst = &v
	}
	if cmd.Flags().Changed("audit-repair") {
		in.AuditRepair = &f.auditRepair
	}
	if in == (store.ScheduleSettings{}) {
		return fmt.Errorf("%w: nothing to change: give --audit-cron, --fullsync-cron, --import-cron or --audit-repair", errUsage)
	}
	st, err := env.store(ctx)
	if err != nil {
		return err
	}
	b, err := st.GetBinding(ctx, f.corpID)
	if err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	// Check the new specs against Temporal before storing them: a spec Temporal refuses is
	// reported and nothing changes.
	next := b
	if in.AuditCron != nil {
		next.AuditCron = *in.AuditCron
	}
	if in.FullSyncCron != nil {
		next.FullSyncCron = *in.FullSyncCron
	}
	if in.ImportCron != nil {
		next.ImportCron = *in.ImportCron
	}
	if err := env.config().Schedules(c).Ensure(ctx, next); err != nil {
		if rerr := env.config().Schedules(c).Ensure(ctx, b); rerr != nil {
			return fmt.Errorf("%w (and restoring the previous schedules failed too: %v)", err, rerr)
		}
		return fmt.Errorf("%w: nothing was changed", err)
	}
	if err := st.UpdateScheduleSettings(ctx, f.corpID, f.by, in); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "updated the schedules of %s; see them with `starter schedules list --corp-id %s`\n", f.corpID, f.corpID)
	return nil
}
