// Package stream is the worker's second event intake: for every binding whose event intake is
// Stream mode it keeps one DingTalk Stream connection open, in one worker at a time (a Postgres
// advisory lock per corp, on a dedicated session, decides which), stores each event in the same
// inbox the HTTP receiver fills (source stream; a duplicate eventId is acknowledged and
// dropped), acknowledges it only once stored, and wakes the corp's incremental sync as the
// HTTP receiver does.
package stream

import (
	"context"
	"log/slog"
	"time"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/httpapi"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Waker wakes a corp's incremental sync (httpapi.IncrementalWaker).
type Waker interface {
	Wake(ctx context.Context, corpID string) error
}

// Intake holds the Stream connections of the corps that chose Stream mode.
type Intake struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Waker    Waker
	Metrics  *metrics.Metrics // optional
	// Rescan is how often the bindings are re-read and locks of other workers retried
	// (default 5 s): it bounds how long a corp whose holder died waits for a new one.
	Rescan time.Duration
	// WakeBudget bounds the wait for Temporal before an event is acknowledged; past it the
	// sweeper wakes the workflow (default 500 ms, as the HTTP receiver).
	WakeBudget time.Duration
	// Options tune the connections (reconnect backoff, keep-alive).
	Options dingtalk.StreamOptions

	wakes *httpapi.WakeDebouncer
}

// held is a corp whose connection this worker runs.
type held struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Run holds the connections until ctx ends, then closes them and releases their locks.
func (in *Intake) Run(ctx context.Context) {
	if in.Rescan <= 0 {
		in.Rescan = 5 * time.Second
	}
	if in.WakeBudget <= 0 {
		in.WakeBudget = 500 * time.Millisecond
	}
	in.wakes = httpapi.NewWakeDebouncer(in.Waker.Wake, httpapi.WakeInterval, in.WakeBudget)
	var locks *store.SessionLocks
	running := map[string]*held{}
	defer func() { in.releaseAll(locks, running) }()
	t := time.NewTicker(in.Rescan)
	defer t.Stop()
	for {
		locks = in.rescan(ctx, locks, running)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rescan makes the running connections match the bindings: it stops those no longer wanted
// (or that ended), and starts those this worker can lock. A lost lock session stops them all.
func (in *Intake) rescan(ctx context.Context, locks *store.SessionLocks, running map[string]*held) *store.SessionLocks {
	if locks != nil {
		if err := locks.Ping(ctx); err != nil {
			slog.Warn("stream intake: the lock session is lost; closing every stream", "error", err)
			in.releaseAll(locks, running)
			locks = nil
		}
	}
	if locks == nil {
		var err error
		if locks, err = in.Store.OpenSessionLocks(ctx); err != nil {
			slog.Warn("stream intake: open the lock session", "error", err)
			return nil
		}
	}
	corps, err := in.Store.StreamCorps(ctx)
	if err != nil {
		slog.Warn("stream intake: list stream bindings", "error", err)
		return locks
	}
	wanted := make(map[string]bool, len(corps))
	for _, c := range corps {
		wanted[c] = true
	}
	for corp, h := range running {
		select {
		case <-h.done:
		default:
			if wanted[corp] {
				continue
			}
		}
		in.release(locks, corp, h)
		delete(running, corp)
	}
	for _, corp := range corps {
		if running[corp] != nil {
			continue
		}
		ok, err := locks.TryLock(ctx, corp)
		if err != nil {
			slog.Warn("stream intake: lock corp", "corp", corp, "error", err)
			continue
		}
		if ok {
			running[corp] = in.start(ctx, corp)
		}
	}
	return locks
}

// start runs corpID's connection until it is released.
func (in *Intake) start(ctx context.Context, corpID string) *held {
	cctx, cancel := context.WithCancel(ctx)
	h := &held{cancel: cancel, done: make(chan struct{})}
	slog.Info("stream intake: holding the corp's stream", "corp", corpID)
	go func() {
		defer close(h.done)
		_ = in.DingTalk.RunStream(cctx, in.app(corpID), in.handler(corpID), in.Options)
	}()
	return h
}

// app loads the corp's App before each connection, so a rotated AppSecret is picked up.
func (in *Intake) app(corpID string) func(context.Context) (dingtalk.App, error) {
	return func(ctx context.Context) (dingtalk.App, error) {
		b, err := in.Store.GetBinding(ctx, corpID)
		if err != nil {
			return dingtalk.App{CorpID: corpID}, err
		}
		secret, version, err := activities.OpenCredential(ctx, in.Store, in.Secrets, corpID, store.CredentialAppSecret)
		if err != nil {
			return dingtalk.App{CorpID: corpID}, err
		}
		return dingtalk.App{CorpID: corpID, AppKey: b.AppKey, AppSecret: secret, CredentialVersion: version}, nil
	}
}

// release stops corpID's connection and gives up its lock.
func (in *Intake) release(locks *store.SessionLocks, corpID string, h *held) {
	h.cancel()
	<-h.done
	if locks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := locks.Unlock(ctx, corpID); err != nil {
			slog.Warn("stream intake: unlock corp", "corp", corpID, "error", err)
		}
	}
	slog.Info("stream intake: released the corp's stream", "corp", corpID)
}

// releaseAll stops every connection and ends the lock session.
func (in *Intake) releaseAll(locks *store.SessionLocks, running map[string]*held) {
	for corp, h := range running {
		in.release(locks, corp, h)
		delete(running, corp)
	}
	if locks != nil {
		_ = locks.Close()
	}
}
