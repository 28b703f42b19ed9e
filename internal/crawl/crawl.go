// Package crawl reads a whole DingTalk org chart into a run's staging: a walk of the
// department tree from the root (listsub, one level per call) and, for every department,
// its direct members (user/list, paged), with bounded concurrency under the client's rate
// limits. Results are flushed in batches together with the flags that say a department is
// complete, so a crawl that dies resumes from staging and reads nothing twice. When the corp's
// field mapping reads smart-HR roster fields, each flush first reads them for its users (one
// roster call per 100 distinct users; none without roster fields).
package crawl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// Source is the part of the DingTalk client a crawl reads with.
type Source interface {
	GetDepartment(ctx context.Context, app dingtalk.App, deptID int64) (dingtalk.DepartmentDetail, error)
	ListSubDepartments(ctx context.Context, app dingtalk.App, deptID int64) ([]dingtalk.Department, error)
	ListUsers(ctx context.Context, app dingtalk.App, deptID, cursor int64, size int) (dingtalk.UserPage, error)
}

// Sink is where a crawl writes what it read.
type Sink interface {
	Stage(ctx context.Context, runID int64, corpID string, b store.StageBatch) error
}

// Progress is how far a crawl has got, reported after every flush.
type Progress struct {
	Departments  int // departments staged (known)
	UserRows     int // user rows staged (a member of two departments counts twice)
	RecordErrors int // departments that could not be read
	RosterErrors int // roster reads refused (the app's permission or scope), recorded once per run
}

// Crawler reads one org into one run's staging.
type Crawler struct {
	Source Source
	Sink   Sink
	// App gives the corp's app for each request (so a credential rotated mid-crawl is picked up).
	App   func() dingtalk.App
	RunID int64
	// Scope limits the crawl to the binding's subtrees and level (zero value: the whole org).
	Scope store.Scope
	// Concurrency bounds the DingTalk requests in flight (default 16).
	Concurrency int
	// FlushEvery and FlushRows bound how much read data waits in memory (default 500 ms, 5,000 rows).
	FlushEvery time.Duration
	FlushRows  int
	// OnProgress is called after every flush (and at least every FlushEvery) from one goroutine.
	OnProgress func(Progress)
	// Roster, when its plan names roster field codes, reads them for every user before the
	// user is staged (nil: no roster fields).
	Roster *Roster
}

// Run crawls the org, resuming from state (what earlier attempts staged). It returns the
// final progress, or the first error that is not a per-record one (bad credentials, a
// missing API permission, DingTalk unavailable); what was complete by then is staged.
func (c *Crawler) Run(ctx context.Context, state store.CrawlState) (Progress, error) {
	c.setDefaults()
	w := &walk{c: c, known: map[int64]bool{}, sem: make(chan struct{}, c.Concurrency)}
	w.progress.Departments = len(state.Departments)
	w.progress.UserRows = state.UserRows

	if len(state.Departments) == 0 {
		roots, err := w.stageRoots(ctx)
		if err != nil {
			return w.progress, err
		}
		state.Departments = roots
	}
	// Flushes must not be cut short when the crawl ends or fails: what was read is kept.
	// A flush that fails ends the crawl.
	crawlCtx, cancelCrawl := context.WithCancelCause(ctx)
	defer cancelCrawl(nil)
	stop := make(chan struct{})
	flushed := make(chan error, 1)
	go func() { flushed <- w.flushLoop(context.WithoutCancel(ctx), stop, cancelCrawl) }()

	g, gctx := errgroup.WithContext(crawlCtx)
	w.g, w.gctx = g, gctx
	for _, d := range state.Departments {
		w.known[d.DeptID] = true
	}
	for _, d := range state.Departments {
		if !d.ChildrenListed {
			w.goListChildren(d.DeptID)
		}
		if !d.UsersListed && c.Scope.Employees() {
			w.goListUsers(d.DeptID)
		}
	}
	crawlErr := g.Wait()
	close(stop)
	if err := <-flushed; err != nil {
		crawlErr = err
	}
	return w.snapshot(), crawlErr
}

func (c *Crawler) setDefaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 500 * time.Millisecond
	}
	if c.FlushRows <= 0 {
		c.FlushRows = 5000
	}
}

// walk is the state of one Run.
type walk struct {
	c    *Crawler
	g    *errgroup.Group
	gctx context.Context
	sem  chan struct{}

	mu       sync.Mutex
	known    map[int64]bool
	pending  store.StageBatch
	rows     int
	progress Progress

	wake atomic.Bool
}

// stageRoots reads and stages the departments the scope's subtrees start from (the root for
// the whole org) and returns them as the crawl's first state.
func (w *walk) stageRoots(ctx context.Context) ([]store.CrawlDepartment, error) {
	var b store.StageBatch
	var state []store.CrawlDepartment
	for _, id := range w.c.Scope.Roots() {
		d, err := w.c.Source.GetDepartment(ctx, w.c.App(), id)
		if err != nil {
			return nil, fmt.Errorf("read department %d, where the binding's scope starts: %w", id, err)
		}
		parent := d.ParentID
		if id == dingtalk.RootDepartmentID {
			parent = 0
		}
		b.Departments = append(b.Departments, dingtalk.Department{ID: d.ID, Name: d.Name, ParentID: parent,
			CreateDeptGroup: d.CreateDeptGroup, AutoAddUser: d.AutoAddUser})
		state = append(state, store.CrawlDepartment{DeptID: id})
	}
	if err := w.c.Sink.Stage(ctx, w.c.RunID, w.c.App().CorpID, b); err != nil {
		return nil, err
	}
	w.progress.Departments = len(state)
	return state, nil
}

// call runs one DingTalk request under the concurrency bound.
func (w *walk) call(fn func() error) error {
	select {
	case w.sem <- struct{}{}:
	case <-w.gctx.Done():
		return w.gctx.Err()
	}
	defer func() { <-w.sem }()
	return fn()
}

func (w *walk) goListChildren(deptID int64) {
	w.g.Go(func() error {
		var children []dingtalk.Department
		err := w.call(func() (err error) {
			children, err = w.c.Source.ListSubDepartments(w.gctx, w.c.App(), deptID)
			return err
		})
		if err != nil {
			return w.recordOrFail(deptID, "list sub-departments", err, func(b *store.StageBatch) {
				b.ChildrenListed = append(b.ChildrenListed, deptID)
			})
		}
		var fresh []int64
		w.add(func(b *store.StageBatch) int {
			for _, ch := range children {
				if !w.known[ch.ID] && !w.c.Scope.Excluded(ch.ID) {
					w.known[ch.ID] = true
					b.Departments = append(b.Departments, ch)
					fresh = append(fresh, ch.ID)
				}
			}
			b.ChildrenListed = append(b.ChildrenListed, deptID)
			w.progress.Departments += len(fresh)
			return len(fresh)
		})
		for _, id := range fresh {
			w.goListChildren(id)
			if w.c.Scope.Employees() {
				w.goListUsers(id)
			}
		}
		return nil
	})
}

func (w *walk) goListUsers(deptID int64) {
	w.g.Go(func() error {
		var users []store.StagedUser
		var cursor int64
		for {
			var page dingtalk.UserPage
			err := w.call(func() (err error) {
				page, err = w.c.Source.ListUsers(w.gctx, w.c.App(), deptID, cursor, dingtalk.MaxUserPageSize)
				return err
			})
			if err != nil {
				return w.recordOrFail(deptID, "list users", err, func(b *store.StageBatch) {
					b.UsersListed = append(b.UsersListed, deptID)
				})
			}
			for _, u := range page.Users {
				users = append(users, store.StagedUser{DeptID: deptID, User: u})
			}
			if !page.HasMore {
				break
			}
			if page.NextCursor <= cursor {
				return fmt.Errorf("list users of department %d: DingTalk returned has_more with a cursor that does not advance (%d after %d)", deptID, page.NextCursor, cursor)
			}
			cursor = page.NextCursor
		}
		w.add(func(b *store.StageBatch) int {
			b.Users = append(b.Users, users...)
			b.UsersListed = append(b.UsersListed, deptID)
			w.progress.UserRows += len(users)
			return len(users)
		})
		return nil
	})
}

// recordOrFail records a per-record failure (the app may not read this department, or it
// vanished mid-crawl) and carries on; any other error ends the crawl.
func (w *walk) recordOrFail(deptID int64, what string, err error, markDone func(*store.StageBatch)) error {
	var de *dingtalk.Error
	if !errors.As(err, &de) || !isRecordLevel(de.Kind) {
		return fmt.Errorf("%s of department %d: %w", what, deptID, err)
	}
	w.add(func(b *store.StageBatch) int {
		b.Errors = append(b.Errors, store.RecordError{Entity: "department", RecordID: strconv.FormatInt(deptID, 10),
			Kind: de.Kind.String(), Code: de.Code, Message: fmt.Sprintf("%s of department %d: %s; fix: %s", what, deptID, de.Error(), de.Hint())})
		markDone(b)
		w.progress.RecordErrors++
		return 1
	})
	return nil
}

// isRecordLevel says whether an error concerns one record only, so the run can go on.
func isRecordLevel(k dingtalk.Kind) bool {
	return k == dingtalk.KindPermission || k == dingtalk.KindOutOfScope || k == dingtalk.KindNotFound
}

// add changes the pending batch under the lock; fn returns how many rows it added.
func (w *walk) add(fn func(b *store.StageBatch) int) {
	w.mu.Lock()
	w.rows += fn(&w.pending)
	full := w.rows >= w.c.FlushRows
	w.mu.Unlock()
	if full {
		w.wake.Store(true)
	}
}

func (w *walk) snapshot() Progress {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.progress
}

// flushLoop writes the pending batch every FlushEvery (sooner when it is full) until stop
// is closed, then writes what is left. Batches are written in the order they were filled, so
// a department's row is always staged before the flags that mention it. A failed write
// cancels the crawl with its error.
func (w *walk) flushLoop(ctx context.Context, stop <-chan struct{}, cancelCrawl context.CancelCauseFunc) error {
	tick := time.NewTicker(w.c.FlushEvery / 10)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return w.flush(ctx)
		case <-tick.C:
		}
		if !w.wake.Load() && time.Since(last) < w.c.FlushEvery {
			continue
		}
		w.wake.Store(false)
		last = time.Now()
		if err := w.flush(ctx); err != nil {
			cancelCrawl(err)
			return err
		}
	}
}

func (w *walk) flush(ctx context.Context) error {
	w.mu.Lock()
	b := w.pending
	w.pending = store.StageBatch{}
	w.rows = 0
	p := w.progress
	w.mu.Unlock()
	if !b.Empty() {
		recorded, err := w.fillRoster(ctx, &b)
		if err != nil {
			return err
		}
		p.RosterErrors += recorded
		flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := w.c.Sink.Stage(flushCtx, w.c.RunID, w.c.App().CorpID, b); err != nil {
			return fmt.Errorf("stage what was read: %w", err)
		}
	}
	if w.c.OnProgress != nil {
		w.c.OnProgress(p)
	}
	return nil
}

// fillRoster reads the roster fields of the batch's users, which are staged together with the
// flags saying their departments are done: a failed read stages neither, so a resumed crawl
// reads those departments again. It returns how many errors it recorded.
func (w *walk) fillRoster(ctx context.Context, b *store.StageBatch) (int, error) {
	before := len(b.Errors)
	rosterCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := w.c.Roster.Fill(rosterCtx, w.c.App(), b); err != nil {
		return 0, fmt.Errorf("stage what was read: %w", err)
	}
	recorded := len(b.Errors) - before
	w.mu.Lock()
	w.progress.RosterErrors += recorded
	w.mu.Unlock()
	return recorded, nil
}
