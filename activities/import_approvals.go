package activities

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
)

// ApprovalWindowInput names one window of an approvals import.
type ApprovalWindowInput struct {
	CorpID string
	// From and To bound the start times of the instances to list, at most 120 days apart.
	From, To time.Time
	// Before is what the run's earlier steps counted, and Window/Windows where this one is.
	Before          ImportCounts
	Window, Windows int
}

// approvalHeartbeat is the window's cursor: the forms before Process are done, and Process is
// read up to NextToken (-1: done too).
type approvalHeartbeat struct {
	Process   string
	NextToken int64
	Counts    ImportCounts
}

// ImportApprovalWindow lists, form by form, the ids of the instances started in the window (20 a
// call), reads the details of those not stored yet or not finished (one call each: a finished
// instance never changes), and upserts them with the leave requests among them. It heartbeats
// its cursor after every page of ids and resumes after it.
func (a *Imports) ImportApprovalWindow(ctx context.Context, in ApprovalWindowInput) (ImportCounts, error) {
	var hb approvalHeartbeat
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &hb)
	}
	app, err := newLiveApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return ImportCounts{}, temporalError(err)
	}
	calls := &dingtalk.CallCounter{}
	ctx = dingtalk.WithCallCounter(ctx, calls)
	done := hb.Counts
	beat := func(process string, next int64) {
		done.APICalls, done.Throttled = hb.Counts.APICalls+calls.Total(), hb.Counts.Throttled+calls.Throttled()
		activity.RecordHeartbeat(ctx, approvalHeartbeat{Process: process, NextToken: next, Counts: done})
		_ = a.Store.SetImportProgress(ctx, in.CorpID, store.ImportApprovals, in.Before.Plus(done).totals(),
			fmt.Sprintf("window %d/%d: form %s", in.Window, in.Windows, process))
	}
	processes, err := a.approvalForms(ctx, app)
	if err != nil {
		return ImportCounts{}, rotationAware(ctx, a.Store, in.CorpID, err)
	}
	for _, code := range processes {
		if code < hb.Process || code == hb.Process && hb.NextToken < 0 {
			continue
		}
		next := int64(0)
		if code == hb.Process {
			next = hb.NextToken
		}
		for {
			page, err := a.DingTalk.QueryApprovalInstanceIDs(ctx, app.Get(), dingtalk.ApprovalQuery{ProcessCode: code,
				Start: in.From, End: in.To, NextToken: next})
			if err != nil {
				return ImportCounts{}, rotationAware(ctx, a.Store, in.CorpID, fmt.Errorf("list instances of %s: %w", code, err))
			}
			c, err := a.readInstances(ctx, app, in.CorpID, refsOf(code, page.InstanceIDs), true)
			if err != nil {
				return ImportCounts{}, rotationAware(ctx, a.Store, in.CorpID, err)
			}
			done, next = done.Plus(c), page.NextToken
			if next == 0 {
				beat(code, -1)
				break
			}
			beat(code, next)
		}
	}
	beat("", -1)
	return done, nil
}

// approvalForms lists every approval form's code, sorted (the order a resume relies on).
func (a *Imports) approvalForms(ctx context.Context, app *liveApp) ([]string, error) {
	var codes []string
	for next := int64(0); ; {
		page, err := a.DingTalk.ListApprovalProcesses(ctx, app.Get(), next)
		if err != nil {
			return nil, fmt.Errorf("list approval forms: %w", err)
		}
		for _, p := range page.Processes {
			codes = append(codes, p.ProcessCode)
		}
		if next = page.NextToken; next == 0 {
			break
		}
	}
	slices.Sort(codes)
	return slices.Compact(codes), nil
}

// ApprovalRef names an approval instance and its form.
type ApprovalRef struct {
	InstanceID  string
	ProcessCode string
}

func refsOf(code string, ids []string) []ApprovalRef {
	refs := make([]ApprovalRef, len(ids))
	for i, id := range ids {
		refs[i] = ApprovalRef{InstanceID: id, ProcessCode: code}
	}
	return refs
}

// readInstances reads the details of refs and stores them. With skipFinished, instances the store
// holds as COMPLETED or TERMINATED are not read (and counted as skipped).
func (a *Imports) readInstances(ctx context.Context, app *liveApp, corpID string, refs []ApprovalRef, skipFinished bool) (ImportCounts, error) {
	var c ImportCounts
	if skipFinished && len(refs) > 0 {
		ids := make([]string, len(refs))
		for i, r := range refs {
			ids[i] = r.InstanceID
		}
		known, err := a.Store.ApprovalStatuses(ctx, corpID, ids)
		if err != nil {
			return c, err
		}
		refs = slices.DeleteFunc(slices.Clone(refs), func(r ApprovalRef) bool {
			return slices.Contains(store.FinalApprovalStatuses, known[r.InstanceID])
		})
		c.Skipped = len(ids) - len(refs)
	}
	var mu sync.Mutex
	var rows []store.ApprovalRow
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency())
	for _, ref := range refs {
		g.Go(func() error {
			inst, err := a.DingTalk.GetApprovalInstance(gctx, app.Get(), ref.InstanceID)
			mu.Lock()
			defer mu.Unlock()
			var de *dingtalk.Error
			switch {
			case errors.As(err, &de) && de.Code == dingtalk.CodeApprovalInstanceNotExist:
				c.Missing++
				return nil
			case err != nil:
				return fmt.Errorf("read approval instance %s: %w", ref.InstanceID, err)
			}
			row, err := approvalRow(ref.ProcessCode, inst)
			if err != nil {
				return err
			}
			c.Fetched++
			if row.Leave != nil {
				c.Leaves++
			}
			rows = append(rows, row)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return c, err
	}
	slices.SortFunc(rows, func(x, y store.ApprovalRow) int { return strings.Compare(x.InstanceID, y.InstanceID) })
	w, err := a.Store.UpsertApprovals(ctx, corpID, rows)
	c.Inserted, c.Updated = w.Inserted, w.Updated
	return c, err
}

// approvalRow turns an instance's details into its row, typing a leave request.
func approvalRow(code string, inst dingtalk.ApprovalInstance) (store.ApprovalRow, error) {
	form, err := json.Marshal(inst.FormValues)
	if err != nil {
		return store.ApprovalRow{}, err
	}
	if inst.FormValues == nil {
		form = []byte("[]")
	}
	row := store.ApprovalRow{InstanceID: inst.ID, ProcessCode: code, Title: inst.Title, OriginatorUserID: inst.OriginatorUserID,
		OriginatorDeptID: inst.OriginatorDeptID, Status: inst.Status, Result: inst.Result, BusinessID: inst.BusinessID,
		CreateTime: sql.NullTime{Time: inst.CreateTime, Valid: !inst.CreateTime.IsZero()},
		FinishTime: sql.NullTime{Time: inst.FinishTime, Valid: !inst.FinishTime.IsZero()}, FormValues: form, Attrs: inst.Raw}
	for _, v := range inst.FormValues {
		if v.ComponentType == LeaveComponent {
			row.Leave = parseLeave(v.Value)
			break
		}
	}
	return row, nil
}

// LeaveComponent is the componentType of DingTalk's leave control (请假套件). An instance whose
// form holds it is a leave request, whatever the form is called.
const LeaveComponent = "DDHolidayField"

// parseLeave reads the leave control's value: ["start","end",duration,"unit","kind","请假类型"],
// start and end as yyyy-MM-dd or yyyy-MM-dd HH:mm in Beijing time. What does not parse is left
// empty (the instance's form values keep the raw text).
func parseLeave(value string) *store.LeaveRow {
	var parts []any
	l := &store.LeaveRow{}
	if json.Unmarshal([]byte(value), &parts) != nil {
		return l
	}
	text := func(i int) string {
		if i < len(parts) {
			if s, ok := parts[i].(string); ok {
				return s
			}
		}
		return ""
	}
	l.Start, l.End = leaveTime(text(0)), leaveTime(text(1))
	if len(parts) > 2 {
		switch d := parts[2].(type) {
		case float64:
			l.Duration = sql.NullFloat64{Float64: d, Valid: true}
		case string:
			f, err := strconv.ParseFloat(d, 64)
			l.Duration = sql.NullFloat64{Float64: f, Valid: err == nil}
		}
	}
	l.Unit, l.LeaveType = text(3), text(4)
	return l
}

func leaveTime(s string) sql.NullTime {
	for _, layout := range []string{"2006-01-02 15:04", time.DateOnly, time.DateTime} {
		if t, err := time.ParseInLocation(layout, s, ChinaTime); err == nil {
			return sql.NullTime{Time: t, Valid: true}
		}
	}
	return sql.NullTime{}
}

// RefreshApprovalsInput names the instances to re-read.
type RefreshApprovalsInput struct {
	CorpID string
	// StartedBefore selects the stored instances not yet COMPLETED or TERMINATED that started
	// before it (those a run's listing windows did not cover).
	StartedBefore time.Time
	// Instances, when given, are read instead (a bpms_instance_change event names one): the
	// incremental sync hands over those of a batch's events.
	Instances []ApprovalRef
	Before    ImportCounts
}

// refreshHeartbeat is the refresh's cursor: instances up to After (in id order) are done.
type refreshHeartbeat struct {
	After  string
	Counts ImportCounts
}

// RefreshOpenApprovals re-reads approval instances that may have changed since they were stored:
// a run's listing only sees instances by start time, so an instance started before the run's
// range and decided since is read here (one call each). It heartbeats the id it is done up to.
func (a *Imports) RefreshOpenApprovals(ctx context.Context, in RefreshApprovalsInput) (ImportCounts, error) {
	var hb refreshHeartbeat
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &hb)
	}
	app, err := newLiveApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return ImportCounts{}, temporalError(err)
	}
	calls := &dingtalk.CallCounter{}
	ctx = dingtalk.WithCallCounter(ctx, calls)
	done := hb.Counts
	if len(in.Instances) > 0 {
		return a.refreshInstances(ctx, app, in.CorpID, in.Instances, calls)
	}
	for {
		stored, err := a.Store.OpenApprovals(ctx, in.CorpID, in.StartedBefore, hb.After, 100)
		if err != nil || len(stored) == 0 {
			done.APICalls, done.Throttled = hb.Counts.APICalls+calls.Total(), hb.Counts.Throttled+calls.Throttled()
			return done, err
		}
		refs := make([]ApprovalRef, len(stored))
		for i, s := range stored {
			refs[i] = ApprovalRef{InstanceID: s.InstanceID, ProcessCode: s.ProcessCode}
		}
		c, err := a.readInstances(ctx, app, in.CorpID, refs, false)
		if err != nil {
			return ImportCounts{}, rotationAware(ctx, a.Store, in.CorpID, err)
		}
		done, hb.After = done.Plus(c), stored[len(stored)-1].InstanceID
		done.APICalls, done.Throttled = hb.Counts.APICalls+calls.Total(), hb.Counts.Throttled+calls.Throttled()
		activity.RecordHeartbeat(ctx, refreshHeartbeat{After: hb.After, Counts: done})
		_ = a.Store.SetImportProgress(ctx, in.CorpID, store.ImportApprovals, in.Before.Plus(done).totals(),
			"re-reading unfinished instances started earlier")
	}
}

// refreshChunk is how many named instances are read between heartbeats.
const refreshChunk = 100

// refreshInstances re-reads the named instances (those of bpms_instance_change events),
// heartbeating after every chunk. A retry reads them all again: each read is idempotent, and
// they are few.
func (a *Imports) refreshInstances(ctx context.Context, app *liveApp, corpID string, refs []ApprovalRef, calls *dingtalk.CallCounter) (ImportCounts, error) {
	var done ImportCounts
	for i := 0; i < len(refs); i += refreshChunk {
		c, err := a.readInstances(ctx, app, corpID, refs[i:min(i+refreshChunk, len(refs))], false)
		if err != nil {
			return ImportCounts{}, rotationAware(ctx, a.Store, corpID, err)
		}
		done = done.Plus(c)
		done.APICalls, done.Throttled = calls.Total(), calls.Throttled()
		activity.RecordHeartbeat(ctx, refreshHeartbeat{Counts: done})
	}
	return done, nil
}

// ImportsApprovals reports whether b imports approval instances: its import schedule is not
// off and binding did not find the app without the approvals permission. Only then does it
// subscribe to bpms_instance_change and re-read the instances those events name.
func ImportsApprovals(b store.Binding) bool {
	if schedules.CronOf(b, schedules.KindImport) == "" {
		return false
	}
	perm := importPermissions[store.ImportApprovals]
	i := slices.IndexFunc(b.Permissions, func(c store.PermissionCheck) bool { return c.Permission == perm })
	return i < 0 || b.Permissions[i].Granted
}
