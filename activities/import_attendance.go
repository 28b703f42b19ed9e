package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// AttendanceWindowInput names one window of an attendance import.
type AttendanceWindowInput struct {
	CorpID string
	// From and To are the first and last work date (00:00 Beijing time), at most 6 days apart.
	From, To time.Time
	// Before is what the run's earlier windows counted, and Window/Windows where this one is, for
	// the progress the store shows.
	Before          ImportCounts
	Window, Windows int
}

// attendanceHeartbeat is the window's cursor: every user up to After (in userid order) is done.
type attendanceHeartbeat struct {
	After  string
	Counts ImportCounts
}

// progressEvery bounds how often an import writes its progress to the store.
const progressEvery = time.Second

// ImportAttendanceWindow reads the clock-ins of the window's work dates for every employee the
// HR store has (active, or left since the window began), 50 users a call and 50 records a page,
// and upserts them by record id. It heartbeats the userid it is done up to after every chunk,
// and a retry resumes after it. When the window joins the watermark it advances it (never past
// yesterday: today is not over).
func (a *Imports) ImportAttendanceWindow(ctx context.Context, in AttendanceWindowInput) (ImportCounts, error) {
	var hb attendanceHeartbeat
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &hb)
	}
	app, err := newLiveApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return ImportCounts{}, temporalError(err)
	}
	users, err := a.Store.AttendanceUsers(ctx, in.CorpID, in.From)
	if err != nil {
		return ImportCounts{}, err
	}
	total := len(users)
	if total == 0 {
		// Reading nobody would move the watermark past these dates for good.
		return ImportCounts{}, invalidImport("the HR store holds no employees of corp %q to read attendance for: run `starter sync full --corp-id %s` first",
			in.CorpID, in.CorpID)
	}
	users = users[sort.Search(len(users), func(i int) bool { return users[i] > hb.After }):]
	calls := &dingtalk.CallCounter{}
	ctx = dingtalk.WithCallCounter(ctx, calls)
	done := hb.Counts
	withCalls := func(c ImportCounts) ImportCounts {
		c.APICalls, c.Throttled = hb.Counts.APICalls+calls.Total(), hb.Counts.Throttled+calls.Throttled()
		return c
	}
	var lastProgress time.Time
	err = a.inChunks(ctx, users, func(chunk []string) (ImportCounts, error) {
		return a.attendanceChunk(ctx, app, in, chunk)
	}, func(chunk []string, c ImportCounts) {
		done = withCalls(done.Plus(c))
		activity.RecordHeartbeat(ctx, attendanceHeartbeat{After: chunk[len(chunk)-1], Counts: done})
		if time.Since(lastProgress) >= progressEvery {
			lastProgress = time.Now()
			progress := fmt.Sprintf("window %d/%d (%s..%s): users %d/%d", in.Window, in.Windows,
				in.From.In(ChinaTime).Format(time.DateOnly), in.To.In(ChinaTime).Format(time.DateOnly),
				total-len(users)+countThrough(users, chunk[len(chunk)-1]), total)
			_ = a.Store.SetImportProgress(ctx, in.CorpID, store.ImportAttendance, in.Before.Plus(done).totals(), progress)
		}
	})
	if err != nil {
		activity.RecordHeartbeat(ctx, attendanceHeartbeat{After: hb.After, Counts: withCalls(hb.Counts)})
		return ImportCounts{}, rotationAware(ctx, a.Store, in.CorpID, err)
	}
	done = withCalls(done)
	if last := minTime(in.To, dayOf(time.Now()).AddDate(0, 0, -1)); !last.Before(in.From) {
		if _, err := a.Store.AdvanceImportWatermark(ctx, in.CorpID, store.ImportAttendance, in.From, last, 24*time.Hour); err != nil {
			return done, err
		}
	}
	return done, a.Store.SetImportProgress(ctx, in.CorpID, store.ImportAttendance, in.Before.Plus(done).totals(),
		fmt.Sprintf("window %d/%d done", in.Window, in.Windows))
}

// countThrough is how many of users (sorted) are at or before id.
func countThrough(users []string, id string) int {
	return sort.Search(len(users), func(i int) bool { return users[i] > id })
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// attendanceChunk reads every page of one chunk's records and stores them.
func (a *Imports) attendanceChunk(ctx context.Context, app *liveApp, in AttendanceWindowInput, users []string) (ImportCounts, error) {
	var recs []dingtalk.AttendanceRecord
	for offset := int64(0); ; offset += dingtalk.MaxAttendancePageSize {
		page, err := a.DingTalk.ListAttendance(ctx, app.Get(), dingtalk.AttendanceQuery{WorkDateFrom: in.From, WorkDateTo: in.To,
			UserIDs: users, Offset: offset, Limit: dingtalk.MaxAttendancePageSize})
		if err != nil {
			return ImportCounts{}, fmt.Errorf("attendance of %d users from %s on %s: %w", len(users), users[0],
				in.From.In(ChinaTime).Format(time.DateOnly), err)
		}
		recs = append(recs, page.Records...)
		if !page.HasMore || len(page.Records) == 0 {
			break
		}
	}
	rows := make([]store.AttendanceRow, 0, len(recs))
	for _, r := range recs {
		if r.ID == 0 || r.UserID == "" {
			continue
		}
		attrs, err := json.Marshal(r)
		if err != nil {
			return ImportCounts{}, err
		}
		check := r.UserCheckTime
		if check == 0 {
			check = max(r.BaseCheckTime, r.WorkDate)
		}
		rows = append(rows, store.AttendanceRow{RecordID: r.ID, UserID: r.UserID, CheckType: r.CheckType, TimeResult: r.TimeResult,
			WorkDate: time.UnixMilli(r.WorkDate).In(ChinaTime).Format(time.DateOnly), CheckTime: time.UnixMilli(check), Attrs: attrs})
	}
	w, err := a.Store.UpsertAttendance(ctx, in.CorpID, rows)
	return ImportCounts{Fetched: len(recs), Inserted: w.Inserted, Updated: w.Updated}, err
}

// inChunks runs do over users in chunks of dingtalk.MaxAttendanceUsers, a.concurrency() at a
// time, and calls done (from this goroutine) for each chunk in order once it and every chunk
// before it succeeded, so what done records is a prefix a retry can resume after.
func (a *Imports) inChunks(ctx context.Context, users []string, do func([]string) (ImportCounts, error),
	done func([]string, ImportCounts)) error {
	var chunks [][]string
	for i := 0; i < len(users); i += dingtalk.MaxAttendanceUsers {
		chunks = append(chunks, users[i:min(i+dingtalk.MaxAttendanceUsers, len(users))])
	}
	type result struct {
		i   int
		c   ImportCounts
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	jobs, results := make(chan int), make(chan result)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range min(a.concurrency(), len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, err := do(chunks[i])
				select {
				case results <- result{i, c, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range chunks {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	pending, next := map[int]ImportCounts{}, 0
	for next < len(chunks) {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		pending[r.i] = r.c
		for c, ok := pending[next]; ok; c, ok = pending[next] {
			delete(pending, next)
			done(chunks[next], c)
			next++
		}
	}
	return nil
}
