// Package schedules keeps a binding's Temporal Schedules: a daily consistency audit, a
// nightly safety-net full sync and a daily import of attendance and approvals per corp. They
// live in Temporal (so they survive worker restarts), are created when a corp is bound and
// removed when it is unbound. Each starts the Scheduled workflow, which runs the real
// audit/<corp>, fullsync/<corp> or import/<kind>/<corp> as a child, so the one-per-corp overlap
// lock of those ids holds for scheduled runs too.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/store"
)

// Kinds of schedule.
const (
	KindAudit    = "audit"
	KindFullSync = "fullsync"
	// KindImport is the daily import of attendance and approvals (workflows.Import of each kind).
	KindImport = "import"
)

// Kinds lists the kinds of the binding's directory schedules (audit and full sync).
var Kinds = []string{KindAudit, KindFullSync}

// AllKinds lists every kind of schedule a binding has: Kinds and the import.
var AllKinds = []string{KindAudit, KindFullSync, KindImport}

// Off, as a binding's cron setting, turns that schedule off.
const Off = "off"

// WorkflowType is the workflow every schedule starts (workflows.Scheduled).
const WorkflowType = "Scheduled"

// catchupWindow bounds how late a missed run still starts (after the server was down).
const catchupWindow = time.Hour

// RunInput is what a schedule hands the Scheduled workflow.
type RunInput struct {
	CorpID string
	Kind   string
}

// ID is the schedule id of corpID's schedule of kind.
func ID(kind, corpID string) string { return "schedule/" + kind + "/" + corpID }

// DefaultCron is the schedule a binding gets unless it sets its own: the audit at 02:MM, the
// full sync at 03:MM and the import at 04:MM every day, MM between 07 and 51 and drawn from the
// corp id, so corps spread out and nothing starts on the hour (DingTalk asks callers to avoid it).
func DefaultCron(kind, corpID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(corpID))
	minute := 7 + h.Sum32()%45
	if minute == 30 {
		minute = 31
	}
	hour := 2
	switch kind {
	case KindFullSync:
		hour = 3
	case KindImport:
		hour = 4
	}
	return fmt.Sprintf("%d %d * * *", minute, hour)
}

// CronOf is the cron spec binding b asks for kind ("" when the schedule is off).
func CronOf(b store.Binding, kind string) string {
	spec := b.AuditCron
	switch kind {
	case KindFullSync:
		spec = b.FullSyncCron
	case KindImport:
		spec = b.ImportCron
	}
	switch spec {
	case "":
		return DefaultCron(kind, b.CorpID)
	case Off:
		return ""
	}
	return spec
}

// ValidateCron checks a cron setting: five fields (minute hour day-of-month month
// day-of-week), or "off".
func ValidateCron(spec string) error {
	if spec == "" || spec == Off {
		return nil
	}
	if n := len(strings.Fields(spec)); n != 5 {
		return fmt.Errorf("cron spec %q has %d fields: give five (minute hour day-of-month month day-of-week), e.g. \"17 2 * * *\", or %q", spec, n, Off)
	}
	return nil
}

// Manager creates, updates and removes schedules on one Temporal namespace.
type Manager struct {
	Client    client.Client
	TaskQueue string
	// TimeZone the cron specs are read in (default Asia/Shanghai: DingTalk's companies keep
	// China time).
	TimeZone string
}

func (m *Manager) timeZone() string {
	if m.TimeZone == "" {
		return "Asia/Shanghai"
	}
	return m.TimeZone
}

// Ensure makes binding b's schedules match its settings: it creates the missing ones,
// updates changed specs, and deletes those turned off. Paused ones stay paused.
func (m *Manager) Ensure(ctx context.Context, b store.Binding) error {
	for _, kind := range AllKinds {
		if err := m.ensure(ctx, b.CorpID, kind, CronOf(b, kind)); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) ensure(ctx context.Context, corpID, kind, cron string) error {
	sc := m.Client.ScheduleClient()
	h := sc.GetHandle(ctx, ID(kind, corpID))
	if cron == "" {
		return ignoreNotFound(h.Delete(ctx))
	}
	spec := client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: m.timeZone()}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:            ID(kind, corpID),
		Spec:          spec,
		Action:        m.action(corpID, kind),
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: catchupWindow,
		Note:          "created by dingsync when the corp was bound",
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return wrap(err, "create schedule %s", ID(kind, corpID))
	}
	return wrap(h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec, s.Action = &spec, m.action(corpID, kind)
		s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, catchupWindow
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}}), "update schedule %s", ID(kind, corpID))
}

func (m *Manager) action(corpID, kind string) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        "scheduled/" + kind + "/" + corpID, // Temporal appends the scheduled time
		Workflow:  WorkflowType,
		Args:      []any{RunInput{CorpID: corpID, Kind: kind}},
		TaskQueue: m.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword("CorpId").ValueSet(corpID),
			temporal.NewSearchAttributeKeyKeyword("SyncKind").ValueSet("scheduled-"+kind)),
	}
}

// Delete removes corpID's schedules (those already gone are fine).
func (m *Manager) Delete(ctx context.Context, corpID string) error {
	for _, kind := range AllKinds {
		if err := ignoreNotFound(m.Client.ScheduleClient().GetHandle(ctx, ID(kind, corpID)).Delete(ctx)); err != nil {
			return wrap(err, "delete schedule %s", ID(kind, corpID))
		}
	}
	return nil
}

// SetPaused pauses or unpauses corpID's schedules of the given kinds (every kind when none),
// with a note saying why.
func (m *Manager) SetPaused(ctx context.Context, corpID string, paused bool, note string, kinds ...string) error {
	if len(kinds) == 0 {
		kinds = AllKinds
	}
	for _, kind := range kinds {
		h := m.Client.ScheduleClient().GetHandle(ctx, ID(kind, corpID))
		var err error
		if paused {
			err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
		} else {
			err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
		}
		if err = ignoreNotFound(err); err != nil {
			return wrap(err, "pause/unpause schedule %s", ID(kind, corpID))
		}
	}
	return nil
}

// Trigger runs corpID's schedule of kind now (skipped, like a scheduled run, if one runs).
func (m *Manager) Trigger(ctx context.Context, corpID, kind string) error {
	err := m.Client.ScheduleClient().GetHandle(ctx, ID(kind, corpID)).Trigger(ctx,
		client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP})
	return wrap(err, "trigger schedule %s", ID(kind, corpID))
}

// Info is one schedule as ops see it.
type Info struct {
	ID         string    `json:"id"`
	CorpID     string    `json:"corpId"`
	Kind       string    `json:"kind"`
	Cron       string    `json:"cron"`
	TimeZone   string    `json:"timeZone"`
	Paused     bool      `json:"paused"`
	Note       string    `json:"note,omitempty"`
	NextRun    time.Time `json:"nextRun,omitzero"`
	LastRun    time.Time `json:"lastRun,omitzero"`
	Runs       int       `json:"runs"`
	Skipped    int       `json:"skippedOverlapping"`
	MissedRuns int       `json:"missedCatchupWindow"`
	Exists     bool      `json:"exists"`
}

// Describe returns corpID's schedules (Exists false for one that is off or missing).
func (m *Manager) Describe(ctx context.Context, corpID string) ([]Info, error) {
	var out []Info
	for _, kind := range AllKinds {
		info := Info{ID: ID(kind, corpID), CorpID: corpID, Kind: kind}
		d, err := m.Client.ScheduleClient().GetHandle(ctx, info.ID).Describe(ctx)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			out = append(out, info)
			continue
		case err != nil:
			return nil, wrap(err, "describe schedule %s", info.ID)
		}
		info.Exists = true
		if s := d.Schedule.Spec; s != nil {
			info.Cron, info.TimeZone = strings.Join(s.CronExpressions, "; "), s.TimeZoneName
			if info.Cron == "" {
				info.Cron = describeCalendars(s.Calendars)
			}
		}
		if st := d.Schedule.State; st != nil {
			info.Paused, info.Note = st.Paused, st.Note
		}
		if len(d.Info.NextActionTimes) > 0 {
			info.NextRun = d.Info.NextActionTimes[0]
		}
		if n := len(d.Info.RecentActions); n > 0 {
			info.LastRun = d.Info.RecentActions[n-1].ActualTime
		}
		info.Runs, info.Skipped, info.MissedRuns = d.Info.NumActions, d.Info.NumActionsSkippedOverlap, d.Info.NumActionsMissedCatchupWindow
		out = append(out, info)
	}
	return out, nil
}

// describeCalendars renders the calendar specs the server turns cron expressions into.
func describeCalendars(cals []client.ScheduleCalendarSpec) string {
	var parts []string
	for _, c := range cals {
		parts = append(parts, fmt.Sprintf("%s %s * * %s", ranges(c.Minute), ranges(c.Hour), ranges(c.DayOfWeek)))
	}
	return strings.Join(parts, "; ")
}

func ranges(rs []client.ScheduleRange) string {
	var parts []string
	for _, r := range rs {
		switch {
		case r.End > r.Start:
			parts = append(parts, fmt.Sprintf("%d-%d", r.Start, r.End))
		default:
			parts = append(parts, fmt.Sprint(r.Start))
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, ",")
}

func ignoreNotFound(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
