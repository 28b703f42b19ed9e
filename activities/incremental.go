package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dingsync/dingsync/internal/crawl"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Incremental holds the activities of incremental sync: turning a batch of DingTalk events
// into an apply of the records they name.
type Incremental struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Metrics  *metrics.Metrics
	// ReadConcurrency bounds the re-reads in flight per batch (default 16).
	ReadConcurrency int
}

// PendingInput asks for a corp's pending events.
type PendingInput struct {
	CorpID string
	Limit  int
}

// PendingResult lists pending event ids in arrival order, and whether a full sync of the
// corp is running (events then wait for it).
type PendingResult struct {
	EventIDs        []string
	FullSyncRunning bool
}

// PendingEvents returns the corp's oldest pending events.
func (a *Incremental) PendingEvents(ctx context.Context, in PendingInput) (PendingResult, error) {
	running, err := a.Store.FullSyncRunning(ctx, in.CorpID)
	if err != nil || running {
		return PendingResult{FullSyncRunning: running}, err
	}
	ids, err := a.Store.PendingEventIDs(ctx, in.CorpID, in.Limit)
	return PendingResult{EventIDs: ids}, err
}

// ApplyEventsInput names a batch: the run recording it and its events.
type ApplyEventsInput struct {
	CorpID   string
	RunID    int64
	EventIDs []string
}

// ApplyEventsResult counts what the batch did.
type ApplyEventsResult struct {
	Events   int
	Applied  ApplyResult
	APICalls int64
}

// batchPlan is what a batch must read and delete, after its events are reduced: for each
// user or department only its last event counts.
type batchPlan struct {
	readUsers, deleteUsers []string
	readDepts, deleteDepts []int64
	// leftAt is when each user of deleteUsers left, by their leave event.
	leftAt map[string]time.Time
}

// recheckLateLeaves moves to the re-reads the leavers who have an applied event newer than
// their leave (the leave's push arrived late, after a rejoin): DingTalk says which is true.
func (a *Incremental) recheckLateLeaves(ctx context.Context, corpID string, p *batchPlan) error {
	if len(p.deleteUsers) == 0 {
		return nil
	}
	leaves := make(map[string]time.Time, len(p.deleteUsers))
	for _, u := range p.deleteUsers {
		leaves[u] = p.leftAt[u]
	}
	rejoined, err := a.Store.RejoinedSince(ctx, corpID, leaves)
	if err != nil {
		return err
	}
	deletes := p.deleteUsers[:0]
	for _, u := range p.deleteUsers {
		if rejoined[u] {
			p.readUsers = append(p.readUsers, u)
		} else {
			deletes = append(deletes, u)
		}
	}
	p.deleteUsers = deletes
	return nil
}

func planBatch(events []store.InboxEvent) batchPlan {
	userLeft, deptGone, leftAt := map[string]bool{}, map[int64]bool{}, map[string]time.Time{}
	var userOrder []string
	var deptOrder []int64
	for _, e := range events {
		for _, u := range e.UserIDs {
			if _, seen := userLeft[u]; !seen {
				userOrder = append(userOrder, u)
			}
			userLeft[u] = e.Type == "user_leave_org"
			if userLeft[u] {
				leftAt[u] = e.EventTime.Time
			}
		}
		for _, d := range e.DeptIDs {
			if _, seen := deptGone[d]; !seen {
				deptOrder = append(deptOrder, d)
			}
			deptGone[d] = e.Type == "org_dept_remove"
		}
	}
	p := batchPlan{leftAt: leftAt}
	for _, u := range userOrder {
		if userLeft[u] {
			p.deleteUsers = append(p.deleteUsers, u)
		} else {
			p.readUsers = append(p.readUsers, u)
		}
	}
	for _, d := range deptOrder {
		if deptGone[d] {
			p.deleteDepts = append(p.deleteDepts, d)
		} else {
			p.readDepts = append(p.readDepts, d)
		}
	}
	return p
}

// ApplyEvents re-reads the current state of every user and department the batch's events
// name (a leave needs no re-read; a user or department DingTalk no longer knows is deleted),
// and applies it through the same apply path as full sync, so hashes and the audit trail
// stay consistent. It then marks the events applied and records their lag.
func (a *Incremental) ApplyEvents(ctx context.Context, in ApplyEventsInput) (ApplyEventsResult, error) {
	stop := heartbeatEvery(ctx, 5*time.Second)
	defer stop()
	events, err := a.Store.EventsByID(ctx, in.CorpID, in.EventIDs)
	if err != nil {
		return ApplyEventsResult{}, err
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return ApplyEventsResult{}, temporalError(err)
	}
	calls := &dingtalk.CallCounter{}
	ctx = dingtalk.WithCallCounter(ctx, calls)
	scope, err := a.Store.GetScope(ctx, in.CorpID)
	if err != nil {
		return ApplyEventsResult{}, err
	}
	plan := planBatch(events)
	if !scope.Employees() { // the org level syncs no employee: no re-read either
		plan.readUsers, plan.deleteUsers = nil, nil
	}
	if err := a.recheckLateLeaves(ctx, in.CorpID, &plan); err != nil {
		return ApplyEventsResult{}, err
	}
	batch, err := a.read(ctx, app, plan)
	if dingtalk.IsKind(err, dingtalk.KindAuth) {
		if rotated, switched, werr := awaitRotatedApp(ctx, a.Store, a.Secrets, in.CorpID, app); werr == nil && switched {
			batch, err = a.read(ctx, rotated, plan)
		}
	}
	if err != nil {
		return ApplyEventsResult{}, rotationAware(ctx, a.Store, in.CorpID, err)
	}
	if err := limitToScope(ctx, a.Store, in.CorpID, scope, &batch); err != nil {
		return ApplyEventsResult{}, err
	}
	if err := a.Store.Stage(ctx, in.RunID, in.CorpID, batch); err != nil {
		return ApplyEventsResult{}, err
	}
	applied, err := a.Store.Apply(ctx, in.RunID, store.DeletionsListed)
	if err != nil {
		return ApplyEventsResult{}, temporalError(err)
	}
	if err := a.Store.MarkEventsApplied(ctx, in.CorpID, in.EventIDs, in.RunID); err != nil {
		return ApplyEventsResult{}, err
	}
	if err := a.Store.RecordAPICalls(ctx, in.RunID, calls.Total(), calls.Throttled()); err != nil {
		return ApplyEventsResult{}, err
	}
	a.observeLag(events)
	return ApplyEventsResult{Events: len(events), Applied: applied, APICalls: calls.Total()}, nil
}

func (a *Incremental) observeLag(events []store.InboxEvent) {
	if a.Metrics == nil {
		return
	}
	now := time.Now()
	for _, e := range events {
		if e.EventTime.Valid {
			a.Metrics.SyncLag.Observe(now.Sub(e.EventTime.Time).Seconds())
		}
	}
}

// read fetches the plan's records with bounded concurrency into one staging batch, with the
// roster fields the corp's mapping reads for the users it re-reads.
func (a *Incremental) read(ctx context.Context, app dingtalk.App, p batchPlan) (store.StageBatch, error) {
	var mu sync.Mutex
	batch := store.StageBatch{}
	for _, u := range p.deleteUsers {
		batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "employee", RecordID: u})
	}
	for _, d := range p.deleteDepts {
		batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "department", RecordID: strconv.FormatInt(d, 10)})
	}
	g, gctx := errgroup.WithContext(ctx)
	limit := a.ReadConcurrency
	if limit <= 0 {
		limit = 16
	}
	g.SetLimit(limit)
	for _, id := range p.readUsers {
		g.Go(func() error {
			u, err := a.DingTalk.GetUser(gctx, app, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case dingtalk.IsKind(err, dingtalk.KindNotFound):
				batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "employee", RecordID: id})
			case err != nil:
				return recordOrReturn(&batch, "employee", id, err)
			default:
				batch.Users = append(batch.Users, stagedMemberships(u)...)
			}
			return nil
		})
	}
	for _, id := range p.readDepts {
		g.Go(func() error {
			d, err := a.DingTalk.GetDepartment(gctx, app, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case dingtalk.IsKind(err, dingtalk.KindNotFound):
				batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "department", RecordID: strconv.FormatInt(id, 10)})
			case err != nil:
				return recordOrReturn(&batch, "department", strconv.FormatInt(id, 10), err)
			default:
				batch.Departments = append(batch.Departments, dingtalk.Department{ID: d.ID, Name: d.Name, ParentID: d.ParentID,
					CreateDeptGroup: d.CreateDeptGroup, AutoAddUser: d.AutoAddUser})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil || len(batch.Users) == 0 {
		return batch, err
	}
	// The roster fields the mapping reads, for the users re-read (no call without any).
	plan, err := a.Store.RosterPlan(ctx, app.CorpID)
	if err != nil {
		return batch, err
	}
	roster := &crawl.Roster{Source: a.DingTalk, Plan: plan}
	return batch, roster.Fill(ctx, app, &batch)
}

// recordOrReturn records a per-record failure (the app may not read this record) so the batch
// goes on; other errors fail the batch.
func recordOrReturn(batch *store.StageBatch, entity, id string, err error) error {
	var de *dingtalk.Error
	if errors.As(err, &de) && (de.Kind == dingtalk.KindPermission || de.Kind == dingtalk.KindOutOfScope) {
		batch.Errors = append(batch.Errors, store.RecordError{Entity: entity, RecordID: id, Kind: de.Kind.String(),
			Code: de.Code, Message: fmt.Sprintf("re-read %s %s: %v; fix: %s", entity, id, de, de.Hint())})
		return nil
	}
	return fmt.Errorf("re-read %s %s: %w", entity, id, err)
}

// stagedMemberships turns user/get's answer into one staged row per department, with the
// per-department order and leader flag user/list would have given, so the stored record
// (and its hash) is the same whichever API read it.
func stagedMemberships(u dingtalk.UserDetail) []store.StagedUser {
	order, leader := map[int64]int64{}, map[int64]bool{}
	for _, o := range u.DeptOrderList {
		order[o.DeptID] = o.Order
	}
	for _, l := range u.LeaderInDept {
		leader[l.DeptID] = l.Leader
	}
	rows := make([]store.StagedUser, 0, len(u.DeptIDList))
	for _, d := range u.DeptIDList {
		user := u.User
		user.DeptOrder, user.Leader = order[d], leader[d]
		rows = append(rows, store.StagedUser{DeptID: d, User: user})
	}
	return rows
}
