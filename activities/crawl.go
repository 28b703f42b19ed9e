package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/dingsync/dingsync/internal/crawl"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// CrawlInput names the run to read DingTalk into.
type CrawlInput struct {
	CorpID string
	RunID  int64
}

// CrawlResult counts what the crawl staged and what it cost.
type CrawlResult struct {
	Departments  int
	UserRows     int
	RecordErrors int
	APICalls     int64
	Throttled    int64
}

// crawlHeartbeat is the crawl's heartbeat detail: the DingTalk calls spent by earlier
// attempts, so the run's total survives a crash. (Where the crawl is lies in staging.)
type crawlHeartbeat struct {
	APICalls  int64
	Throttled int64
}

// CrawlOrg reads the corp's whole org chart into the run's staging, resuming from what earlier
// attempts staged, with the roster fields the corp's mapping reads. It heartbeats after every
// flush and records progress in sync_runs.
func (a *Sync) CrawlOrg(ctx context.Context, in CrawlInput) (CrawlResult, error) {
	var prior crawlHeartbeat
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &prior)
	}
	app, err := newLiveApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return CrawlResult{}, temporalError(err)
	}
	state, err := a.Store.LoadCrawlState(ctx, in.RunID)
	if err != nil {
		return CrawlResult{}, err
	}
	scope, err := a.Store.GetScope(ctx, in.CorpID)
	if err != nil {
		return CrawlResult{}, err
	}
	roster, err := a.Store.RosterPlan(ctx, in.CorpID)
	if err != nil {
		return CrawlResult{}, err
	}
	calls := &dingtalk.CallCounter{}
	ctx = dingtalk.WithCallCounter(ctx, calls)
	totals := func() crawlHeartbeat {
		return crawlHeartbeat{APICalls: prior.APICalls + calls.Total(), Throttled: prior.Throttled + calls.Throttled()}
	}
	c := &crawl.Crawler{Source: a.DingTalk, Sink: a.Store, App: app.Get, RunID: in.RunID, Scope: scope, Concurrency: a.CrawlConcurrency,
		Roster: &crawl.Roster{Source: a.DingTalk, Plan: roster},
		OnProgress: func(p crawl.Progress) {
			t := totals()
			activity.RecordHeartbeat(ctx, t)
			_ = a.Store.SetProgress(ctx, in.RunID, store.Progress{Phase: "reading DingTalk",
				DepartmentsSeen: p.Departments, EmployeesSeen: p.UserRows, APICalls: t.APICalls, Throttled: t.Throttled})
		}}
	p, err := c.Run(ctx, state)
	t := totals()
	if err != nil {
		activity.RecordHeartbeat(ctx, t)
		return CrawlResult{}, rotationAware(ctx, a.Store, in.CorpID, err)
	}
	return CrawlResult{Departments: p.Departments, UserRows: p.UserRows, RecordErrors: p.RecordErrors,
		APICalls: t.APICalls, Throttled: t.Throttled}, nil
}
