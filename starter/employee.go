package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

type employeeFlags struct {
	corpID, userID, name, mobile, key, by, status string
	set                                           []string
	depts                                         []int64
	wait                                          time.Duration
	limit                                         int
	asJSON                                        bool
}

const employeeLong = `The eHR edits the employee fields it owns (see 'starter ownership') and hires new members;
each edit is queued in the HR store (ehr_writes) and pushed to DingTalk by the worker's
writeback/<corp> workflow, which these commands wake at once. A field DingTalk owns is refused:
change it in DingTalk, or hand it to the eHR with 'starter ownership set'.

--set field=value takes name, title, job_number, email, org_email, telephone, work_place and
remark as text (the value may contain '='), and hired_date as a date (2024-03-01, midnight in
DINGSYNC_SCHEDULE_TIMEZONE, default Asia/Shanghai) or unix milliseconds.

--key makes a call safe to repeat: the same key returns the first call's write instead of
queuing another. --wait D follows the write until DingTalk has it or D passes; the exit code is
1 when the write failed or is still pending then ('starter employee writes' shows why). A hire
enters the HR store when DingTalk reports the new member, as any member DingTalk adds.`

func newEmployeeCommand(env *environment) *cobra.Command {
	f := &employeeFlags{}
	cmd := &cobra.Command{
		Use:   "employee",
		Short: "Edit eHR-owned employee fields, hire into DingTalk, and follow the writes and conflicts",
		Long:  employeeLong,
		Example: `  starter employee update --corp-id dingcorp1 --userid manager01 --set title=HRBP --set hired_date=2024-03-01 --by alice --wait 30s
  starter employee hire --corp-id dingcorp1 --name 张三 --mobile 13800000000 --dept 1 --dept 7 --set title=Engineer --key hire-2024-0042 --by alice --wait 30s
  starter employee writes --corp-id dingcorp1 --status failed
  starter employee conflicts --corp-id dingcorp1 --json`,
	}
	update := &cobra.Command{
		Use: "update", Short: "Change eHR-owned fields of an employee and push them to DingTalk", Long: employeeLong,
		Example: `  starter employee update --corp-id dingcorp1 --userid manager01 --set title=HRBP --by alice
  starter employee update --corp-id dingcorp1 --userid manager01 --set hired_date=2024-03-01 --key ehr-change-981 --by alice --wait 30s --json`,
		RunE: func(cmd *cobra.Command, _ []string) error { return updateEmployee(cmd, env, f) },
	}
	update.Flags().StringVar(&f.userID, "userid", "", "the employee's DingTalk userid (required)")
	update.Flags().StringVar(&f.key, "key", "", "an idempotency key: repeating the call with it queues nothing new")
	hire := &cobra.Command{
		Use: "hire", Short: "Create a new member in DingTalk from the eHR", Long: employeeLong,
		Example: `  starter employee hire --corp-id dingcorp1 --name 张三 --mobile 13800000000 --dept 1 --dept 7 \
      --set title=Engineer --set hired_date=2024-03-01 --key hire-2024-0042 --by alice --wait 30s`,
		RunE: func(cmd *cobra.Command, _ []string) error { return hireEmployee(cmd, env, f) },
	}
	hire.Flags().StringVar(&f.name, "name", "", "the new member's name (required)")
	hire.Flags().StringVar(&f.mobile, "mobile", "", "the new member's mobile, their DingTalk login (required)")
	hire.Flags().Int64SliceVar(&f.depts, "dept", nil, "a department id of the new member; repeat for more (required)")
	hire.Flags().StringVar(&f.key, "key", "", "unique per hire, e.g. the eHR's hire record id (required): re-running with the same key never creates a second member")
	for _, c := range []*cobra.Command{update, hire} {
		c.Flags().StringArrayVar(&f.set, "set", nil, "field=value, e.g. title=HRBP or hired_date=2024-03-01; repeat for more fields")
		c.Flags().StringVar(&f.by, "by", "", "who makes the change, for the sync log (required)")
		c.Flags().DurationVar(&f.wait, "wait", 0, "follow the write until DingTalk has it or this long passes, e.g. 30s")
	}
	writes := &cobra.Command{
		Use: "writes", Short: "List the corp's latest eHR writes and what pushing them to DingTalk came to",
		RunE: func(cmd *cobra.Command, _ []string) error { return listWrites(cmd, env, f) },
	}
	writes.Flags().StringVar(&f.status, "status", "", "only writes in this status: pending, pushed or failed")
	conflicts := &cobra.Command{
		Use: "conflicts", Short: "List fields DingTalk changed though the eHR owns them, and which value won",
		RunE: func(cmd *cobra.Command, _ []string) error { return listConflicts(cmd, env, f) },
	}
	for _, c := range []*cobra.Command{writes, conflicts} {
		c.Flags().IntVar(&f.limit, "limit", 50, "how many to show, newest first")
	}
	for _, c := range []*cobra.Command{update, hire, writes, conflicts} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
		c.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
	}
	cmd.AddCommand(update, hire, writes, conflicts)
	return cmd
}

// parseSetFlags turns --set values (field=value) into the changes they ask for: text for every
// ownable field but hired_date, which is unix milliseconds given as such or as a date
// (yyyy-mm-dd, midnight in loc). Every error wraps errUsage.
func parseSetFlags(sets []string, loc *time.Location) (map[string]any, error) {
	changes := map[string]any{}
	for _, kv := range sets {
		field, value, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: --set %q: want field=value, e.g. --set title=HRBP", errUsage, kv)
		case !slices.Contains(store.OwnableFields, field):
			return nil, fmt.Errorf("%w: --set %q: the eHR cannot write %q: choose from %s (mobile stays DingTalk's)",
				errUsage, kv, field, strings.Join(store.OwnableFields, ", "))
		}
		if _, dup := changes[field]; dup {
			return nil, fmt.Errorf("%w: --set %s given twice: give each field once", errUsage, field)
		}
		if field != "hired_date" {
			changes[field] = value
			continue
		}
		ms, err := parseHiredDate(value, loc)
		if err != nil {
			return nil, err
		}
		changes[field] = ms
	}
	return changes, nil
}

// parseHiredDate reads a hired_date: a date (yyyy-mm-dd, midnight in loc) or unix milliseconds.
func parseHiredDate(value string, loc *time.Location) (int64, error) {
	if d, err := time.ParseInLocation(time.DateOnly, value, loc); err == nil {
		return d.UnixMilli(), nil
	}
	if ms, err := strconv.ParseInt(value, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	return 0, fmt.Errorf("%w: --set hired_date=%q: want a date like 2024-03-01 or unix milliseconds like 1709222400000", errUsage, value)
}

// dateZone is the zone a hired_date given as a date is midnight in.
func dateZone(env *environment) (*time.Location, error) {
	name := env.config().ScheduleTimeZone
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q of DINGSYNC_SCHEDULE_TIMEZONE (%v): set it to an IANA zone such as Asia/Shanghai", name, err)
	}
	return loc, nil
}

func updateEmployee(cmd *cobra.Command, env *environment, f *employeeFlags) error {
	if f.userID == "" || f.by == "" || len(f.set) == 0 {
		return fmt.Errorf("%w: --userid, --by and at least one --set field=value are required", errUsage)
	}
	loc, err := dateZone(env)
	if err != nil {
		return err
	}
	changes, err := parseSetFlags(f.set, loc)
	if err != nil {
		return err
	}
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	id, err := st.UpdateEmployee(cmd.Context(), f.corpID, f.userID, changes, f.by, f.key)
	if err != nil {
		return err
	}
	if id == 0 {
		if f.asJSON {
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"id": 0, "status": "unchanged"})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "nothing to change: %s already has these values\n", f.userID)
		return nil
	}
	return pushWrite(cmd, env, st, c, writeFollow{corpID: f.corpID, wait: f.wait, asJSON: f.asJSON}, id)
}

func hireEmployee(cmd *cobra.Command, env *environment, f *employeeFlags) error {
	if f.name == "" || f.mobile == "" || len(f.depts) == 0 || f.key == "" || f.by == "" {
		return fmt.Errorf("%w: --name, --mobile, --dept, --key and --by are required; --key is unique per hire "+
			"(e.g. the eHR's hire record id), so re-running a hire never creates a second member", errUsage)
	}
	loc, err := dateZone(env)
	if err != nil {
		return err
	}
	fields, err := parseSetFlags(f.set, loc)
	if err != nil {
		return err
	}
	if _, ok := fields["name"]; ok {
		return fmt.Errorf("%w: give the new member's name with --name, not --set name=", errUsage)
	}
	fields["name"], fields["mobile"], fields["dept_ids"] = f.name, f.mobile, f.depts
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	id, err := st.HireEmployee(cmd.Context(), f.corpID, fields, f.by, f.key)
	if err != nil {
		return err
	}
	return pushWrite(cmd, env, st, c, writeFollow{corpID: f.corpID, wait: f.wait, asJSON: f.asJSON}, id)
}

// listedStore checks the corp and the --limit of a list, and opens the store.
func listedStore(cmd *cobra.Command, env *environment, f *employeeFlags) (*store.Store, error) {
	if f.limit <= 0 {
		return nil, fmt.Errorf("%w: --limit %d: want a positive number", errUsage, f.limit)
	}
	st, err := corpStore(cmd, env, f.corpID)
	if err != nil {
		return nil, err
	}
	_, err = st.GetBinding(cmd.Context(), f.corpID)
	return st, err
}

func listWrites(cmd *cobra.Command, env *environment, f *employeeFlags) error {
	if f.status != "" && f.status != store.WritePending && f.status != store.WritePushed && f.status != store.WriteFailed {
		return fmt.Errorf("%w: --status %q: want pending, pushed or failed", errUsage, f.status)
	}
	st, err := listedStore(cmd, env, f)
	if err != nil {
		return err
	}
	writes, err := st.ListEHRWrites(cmd.Context(), f.corpID, f.status, f.limit)
	if err != nil {
		return err
	}
	return printListing(cmd.OutOrStdout(), f, writes, "ID\tOP\tSUBJECT\tFIELDS\tSTATUS\tACTOR\tCREATED\tREASON",
		func(w store.EHRWrite) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s", w.ID, w.Op, w.Subject(), fieldSummary(w.Fields), w.Status, w.Actor,
				w.CreatedAt.Local().Format("2006-01-02 15:04:05"), reasonText(w.Reason))
		})
}

func listConflicts(cmd *cobra.Command, env *environment, f *employeeFlags) error {
	st, err := listedStore(cmd, env, f)
	if err != nil {
		return err
	}
	conflicts, err := st.ListFieldConflicts(cmd.Context(), f.corpID, f.limit)
	if err != nil {
		return err
	}
	return printListing(cmd.OutOrStdout(), f, conflicts,
		"FOUND\tUSERID\tFIELD\tBASE\tEHR VALUE\tDINGTALK VALUE\tBOTH CHANGED\tWINNER\tFOUND BY",
		func(c store.FieldConflict) string {
			both := "no"
			if c.BothChanged {
				both = "yes"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", c.FoundAt.Local().Format("2006-01-02 15:04:05"), c.UserID,
				c.Field, jsonText(c.Base), jsonText(c.EHRValue), jsonText(c.DingTalkValue), both, c.Winner, c.FoundBy)
		})
}

// printListing prints a list as JSON (--json) or as a table under header, one row per item,
// and says when --limit cut it short.
func printListing[T any](out io.Writer, f *employeeFlags, items []T, header string, row func(T) string) error {
	if f.asJSON {
		return json.NewEncoder(out).Encode(items)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, item := range items {
		fmt.Fprintln(tw, row(item))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(items) == f.limit {
		fmt.Fprintf(out, "(first %d shown; use --limit or --json for more)\n", f.limit)
	}
	return nil
}

// fieldSummary renders a write's fields as field=value pairs sorted by field, each value as
// JSON (a quoted string keeps its spaces unambiguous).
func fieldSummary(raw json.RawMessage) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return string(raw)
	}
	pairs := make([]string, 0, len(fields))
	for field, v := range fields {
		pairs = append(pairs, field+"="+string(v))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, " ")
}

// jsonText renders a stored JSON value as is, or "-" for none.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "-"
	}
	return string(raw)
}

// reasonText renders a write's reason, or "-" for none.
func reasonText(reason *string) string {
	if reason == nil {
		return "-"
	}
	return dash(*reason)
}
