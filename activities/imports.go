package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Imports holds the activities that import attendance records and approval instances from
// DingTalk into the HR store. They read in windows DingTalk allows, heartbeat a cursor after every
// chunk, resume from it, and return counts only.
type Imports struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	// Concurrency bounds the DingTalk requests in flight per import (default 4: enough to keep
	// one API at its 19 QPS with DingTalk's latency).
	Concurrency int
}

func (a *Imports) concurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return 4
}

// Import defaults. DingTalk counts attendance and approval calls against the standard edition's
// 5,000 calls a month (README, Imports), so an incremental run reads no further back than this.
const (
	// ImportLookbackDays is how far back an incremental import reads at most, and the first one reads.
	ImportLookbackDays = 31
	// approvalOverlap re-lists instances started this long before the watermark, for clock skew
	// and DingTalk's indexing delay; known finished instances cost no detail call.
	approvalOverlap = time.Hour
	// approvalMaxAge is DingTalk's limit on how old a listed start time may be (365 days), less a
	// margin for the time the call takes to arrive.
	approvalMaxAge = 365*24*time.Hour - time.Hour
	// maxBackfillDays bounds one attendance backfill (split longer ones).
	maxBackfillDays = 366
)

// ErrTypeInvalidImport is an import asked for a range it cannot read.
const ErrTypeInvalidImport = "InvalidInput"

// ChinaTime is Beijing time, in which DingTalk keeps attendance work dates.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// ImportCounts is what an import (or one window of it) read, wrote and cost.
type ImportCounts struct {
	// Fetched counts the records (attendance) or instance details (approvals) read from DingTalk.
	Fetched  int
	Inserted int
	Updated  int
	// Skipped counts approval instances listed but not re-read: stored already as finished.
	Skipped int
	// Missing counts approval instances DingTalk no longer knows.
	Missing int
	// Leaves counts the leave requests among the instances read.
	Leaves    int
	APICalls  int64
	Throttled int64
}

// Plus adds o to c.
func (c ImportCounts) Plus(o ImportCounts) ImportCounts {
	return ImportCounts{Fetched: c.Fetched + o.Fetched, Inserted: c.Inserted + o.Inserted, Updated: c.Updated + o.Updated,
		Skipped: c.Skipped + o.Skipped, Missing: c.Missing + o.Missing, Leaves: c.Leaves + o.Leaves,
		APICalls: c.APICalls + o.APICalls, Throttled: c.Throttled + o.Throttled}
}

func (c ImportCounts) totals() store.ImportTotals {
	return store.ImportTotals{Fetched: int64(c.Fetched), Inserted: int64(c.Inserted), Updated: int64(c.Updated), APICalls: c.APICalls}
}

// ImportWindow is one slice of an import's range.
type ImportWindow struct {
	From, To time.Time
}

// AttendanceWindows splits the work dates from..to (each 00:00 Beijing time) into windows of at
// most 7 dates, as one /attendance/list call may span.
func AttendanceWindows(from, to time.Time) []ImportWindow {
	var ws []ImportWindow
	for d := from; !d.After(to); d = d.AddDate(0, 0, 7) {
		end := d.AddDate(0, 0, 6)
		if end.After(to) {
			end = to
		}
		ws = append(ws, ImportWindow{From: d, To: end})
	}
	return ws
}

// ApprovalWindows splits the start times [from, to] into windows of at most 120 days, as one
// instanceIds/query call may span.
func ApprovalWindows(from, to time.Time) []ImportWindow {
	var ws []ImportWindow
	for d := from; d.Before(to); d = d.Add(dingtalk.MaxApprovalWindow) {
		end := d.Add(dingtalk.MaxApprovalWindow)
		if end.After(to) {
			end = to
		}
		ws = append(ws, ImportWindow{From: d, To: end})
	}
	return ws
}

// BeginImportInput starts an import of one kind for a corp.
type BeginImportInput struct {
	CorpID  string
	Kind    string // store.ImportAttendance or store.ImportApprovals
	Trigger string // manual, schedule
	// From and To (yyyy-MM-dd, Beijing time, inclusive) make the run a backfill of that range;
	// both empty: an incremental run from the watermark.
	From, To string
}

// ImportPlan is the range an import reads.
type ImportPlan struct {
	// Skipped says why nothing runs (a scheduled import of a permission the app lacks).
	Skipped string
	// From and To are the first and last work date (attendance, 00:00 Beijing time) or the
	// start-time range of the instances to list (approvals). From after To: nothing to read.
	From, To time.Time
	Backfill bool
	// Watermark is the watermark before the run (zero: none yet).
	Watermark time.Time
	// Note tells ops about what the range leaves out.
	Note string
}

// importPermissions are the permissions each kind needs, as binding's probes name them.
var importPermissions = map[string]string{store.ImportAttendance: "qyapi_attendance_read", store.ImportApprovals: "qyapi_process_read"}

// BeginImport plans an import: it checks the binding (a paused or unbound corp is refused; a
// scheduled import of a permission binding found missing is skipped), works out the range from
// the input or the watermark, and records the run.
func (a *Imports) BeginImport(ctx context.Context, in BeginImportInput) (ImportPlan, error) {
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return ImportPlan{}, temporalError(err)
	}
	if b.Status == store.BindingPaused || b.Status == store.BindingUnbound {
		return ImportPlan{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("corp %q is %s: resume or bind it before importing", in.CorpID, b.Status), ErrTypeBindingInactive, nil)
	}
	perm := importPermissions[in.Kind]
	if perm == "" {
		return ImportPlan{}, invalidImport("unknown import kind %q: want %s or %s", in.Kind, store.ImportAttendance, store.ImportApprovals)
	}
	state, _, err := a.Store.GetImportState(ctx, in.CorpID, in.Kind)
	if err != nil {
		return ImportPlan{}, err
	}
	plan := ImportPlan{Watermark: state.Watermark.Time, Backfill: in.From != "" || in.To != ""}
	i := slices.IndexFunc(b.Permissions, func(c store.PermissionCheck) bool { return c.Permission == perm })
	switch {
	case i >= 0 && !b.Permissions[i].Granted && in.Trigger == "schedule":
		plan.Skipped = fmt.Sprintf("the app lacks %s (found when the corp was bound); fix: %s", perm, b.Permissions[i].Fix)
	case in.Kind == store.ImportAttendance:
		err = planAttendance(&plan, in, time.Now())
	default:
		err = planApprovals(&plan, in, time.Now())
	}
	if err != nil {
		return ImportPlan{}, err
	}
	info := activity.GetInfo(ctx)
	return plan, a.Store.StartImport(ctx, store.StartImportInput{CorpID: in.CorpID, Kind: in.Kind,
		WorkflowID: info.WorkflowExecution.ID, Trigger: in.Trigger, From: plan.From, To: plan.To})
}

func invalidImport(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidImport, nil)
}

// dayOf is 00:00 Beijing time of t's date there.
func dayOf(t time.Time) time.Time {
	y, m, d := t.In(ChinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, ChinaTime)
}

// backfillRange parses the yyyy-MM-dd dates of a backfill.
func backfillRange(in BeginImportInput) (from, to time.Time, err error) {
	if in.From == "" || in.To == "" {
		return from, to, invalidImport("a backfill needs both --from and --to (yyyy-MM-dd)")
	}
	from, err1 := time.ParseInLocation(time.DateOnly, in.From, ChinaTime)
	to, err2 := time.ParseInLocation(time.DateOnly, in.To, ChinaTime)
	switch {
	case err1 != nil || err2 != nil:
		return from, to, invalidImport("--from %q and --to %q must be dates (yyyy-MM-dd)", in.From, in.To)
	case to.Before(from):
		return from, to, invalidImport("--to %s is before --from %s", in.To, in.From)
	}
	return from, to, nil
}

// planAttendance sets the work dates to read: a backfill's, or those after the watermark up to
// yesterday (today is not over), at most ImportLookbackDays back.
func planAttendance(plan *ImportPlan, in BeginImportInput, now time.Time) error {
	today := dayOf(now)
	if plan.Backfill {
		from, to, err := backfillRange(in)
		switch {
		case err != nil:
			return err
		case to.After(today):
			return invalidImport("--to %s is in the future: attendance exists up to today (%s)", in.To, today.Format(time.DateOnly))
		case to.Sub(from) >= maxBackfillDays*24*time.Hour:
			return invalidImport("%s..%s is more than %d days: split the backfill", in.From, in.To, maxBackfillDays)
		}
		plan.From, plan.To = from, to
		return nil
	}
	floor := today.AddDate(0, 0, -ImportLookbackDays)
	plan.From, plan.To = floor, today.AddDate(0, 0, -1)
	if !plan.Watermark.IsZero() {
		plan.From = dayOf(plan.Watermark).AddDate(0, 0, 1)
	}
	if plan.From.Before(floor) {
		plan.Note = fmt.Sprintf("work dates %s..%s are older than the %d-day lookback and were not imported: backfill them with --from/--to",
			plan.From.Format(time.DateOnly), floor.AddDate(0, 0, -1).Format(time.DateOnly), ImportLookbackDays)
		plan.From = floor
	}
	return nil
}

// planApprovals sets the start times of the instances to list: a backfill's dates, or from an
// hour before the watermark to now, at most ImportLookbackDays back and never older than DingTalk
// lists (365 days).
func planApprovals(plan *ImportPlan, in BeginImportInput, now time.Time) error {
	oldest := now.Add(-approvalMaxAge)
	if plan.Backfill {
		from, to, err := backfillRange(in)
		if err != nil {
			return err
		}
		if from.Before(oldest) {
			return invalidImport("--from %s is more than 365 days ago: DingTalk lists approval instances started in the last 365 days only", in.From)
		}
		plan.From, plan.To = from, to.AddDate(0, 0, 1).Add(-time.Millisecond)
		if plan.To.After(now) {
			plan.To = now
		}
		return nil
	}
	floor := now.AddDate(0, 0, -ImportLookbackDays)
	plan.From, plan.To = floor, now
	if !plan.Watermark.IsZero() {
		plan.From = plan.Watermark.Add(-approvalOverlap)
	}
	if plan.From.Before(floor) {
		plan.Note = fmt.Sprintf("instances started before %s (the %d-day lookback) were not listed: backfill them with --from/--to",
			floor.In(ChinaTime).Format(time.DateTime), ImportLookbackDays)
		plan.From = floor
	}
	if plan.From.Before(oldest) {
		plan.From = oldest
	}
	return nil
}

// FinishImportInput is how an import ended.
type FinishImportInput struct {
	CorpID, Kind string
	Status       string // store.ImportSucceeded, ImportFailed or ImportSkipped
	Error        string
	Counts       ImportCounts
	// AdvanceFrom and AdvanceTo, when set, are the range the run read in full: the watermark
	// moves to AdvanceTo if the range joins it (approvals; attendance advances per window).
	AdvanceFrom, AdvanceTo time.Time
}

// FinishImportResult is the watermark after the run.
type FinishImportResult struct {
	Watermark time.Time
}

// FinishImport records the run's outcome and, for a complete run, advances the watermark.
func (a *Imports) FinishImport(ctx context.Context, in FinishImportInput) (FinishImportResult, error) {
	var res FinishImportResult
	if !in.AdvanceTo.IsZero() {
		wm, err := a.Store.AdvanceImportWatermark(ctx, in.CorpID, in.Kind, in.AdvanceFrom, in.AdvanceTo, 0)
		if err != nil {
			return res, err
		}
		res.Watermark = wm
	}
	if err := a.Store.FinishImport(ctx, in.CorpID, in.Kind, in.Status, in.Error, in.Counts.totals()); err != nil {
		return res, err
	}
	if res.Watermark.IsZero() {
		st, _, err := a.Store.GetImportState(ctx, in.CorpID, in.Kind)
		res.Watermark = st.Watermark.Time
		return res, err
	}
	return res, nil
}
