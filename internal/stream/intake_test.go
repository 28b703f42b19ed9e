package stream

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

const (
	corp   = "dingintakecorp"
	appKey = "dingintakeapp"
	secret = "intake-s3cret"
)

type wakes struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *wakes) Wake(_ context.Context, corpID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n[corpID]++
	return nil
}

func (w *wakes) count(corpID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[corpID]
}

// env is a store with one corp bound in Stream mode, and the simulator it talks to.
type env struct {
	t       *testing.T
	st      *store.Store
	sim     *dingtalksim.Server
	client  *dingtalk.Client
	box     *secretbox.Box
	wakes   *wakes
	metrics *metrics.Metrics
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg(corp, dingtalksim.OrgSpec{Seed: 5, Employees: 60})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: corp, AppKey: appKey, AppSecret: secret}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st := testenv.NewStore(t)
	if _, err := st.Bind(context.Background(), store.BindInput{CorpID: corp, AppKey: appKey, EventIntake: store.EventIntakeStream,
		Actor: "test", SealSecret: func(sc string) ([]byte, error) { return box.Seal(secret, sc) }}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, sim: sim, client: dingtalk.New(dingtalk.Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL}),
		box: box, wakes: &wakes{n: map[string]int{}}, metrics: metrics.New()}
}

// start runs an intake (a worker's) until stop is called.
func (e *env) start() (stop func()) {
	in := &Intake{Store: e.st, DingTalk: e.client, Secrets: e.box, Waker: e.wakes, Metrics: e.metrics,
		Rescan: 100 * time.Millisecond, Options: dingtalk.StreamOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) mutate(n int, tag string) {
	e.t.Helper()
	users := e.sim.Truth(corp).Users
	for i := range n {
		u := users[i]
		u.Title = fmt.Sprintf("%s-%d", tag, i)
		if _, err := e.sim.UpdateUser(corp, u); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) inbox() int {
	e.t.Helper()
	var n int
	if err := e.st.DB().Get(&n, `SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND source = 'stream'`, corp); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within 10 s; stream stats %+v", what, e.sim.StreamStats(appKey))
		}
	}
}

func (e *env) outcome(o string) float64 {
	var m dto.Metric
	if err := e.metrics.Callbacks.WithLabelValues(o).Write(&m); err != nil {
		e.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestOneWorkerHoldsACorpsStreamAndAnotherTakesOver(t *testing.T) {
	e := newEnv(t)
	stopFirst := e.start()
	e.waitFor("first worker connected", func() bool { return e.sim.StreamStats(appKey).Connections == 1 })
	e.start()
	time.Sleep(500 * time.Millisecond) // several rescans of the second worker
	if st := e.sim.StreamStats(appKey); st.Connections != 1 || st.Opens != 1 {
		t.Fatalf("two workers opened %d connections (%d now up), want one", st.Opens, st.Connections)
	}
	e.mutate(5, "a")
	e.waitFor("5 events stored", func() bool { return e.inbox() == 5 })
	if e.wakes.count(corp) == 0 || e.outcome(OutcomeAccepted) != 5 {
		t.Fatalf("woken %d times, %v accepted", e.wakes.count(corp), e.outcome(OutcomeAccepted))
	}

	stopFirst() // its lock goes with it
	e.mutate(5, "b")
	e.waitFor("the second worker took over", func() bool { return e.sim.StreamStats(appKey).Connects == 2 })
	e.waitFor("10 events stored", func() bool { return e.inbox() == 10 })

	if err := e.sim.SetStreamOptions(dingtalksim.StreamOptions{DuplicateRate: 1}); err != nil {
		t.Fatal(err)
	}
	e.mutate(3, "c")
	e.waitFor("duplicates dropped", func() bool { return e.outcome(OutcomeDuplicate) == 3 })
	if n := e.inbox(); n != 13 {
		t.Fatalf("%d events stored, want 13", n)
	}

	if _, err := e.st.DB().Exec(`UPDATE bindings SET event_intake = 'http' WHERE corp_id = $1`, corp); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the stream released after the switch to http", func() bool { return e.sim.StreamStats(appKey).Connections == 0 })
}

func TestAnEventIsAcknowledgedOnlyOnceStored(t *testing.T) {
	e := newEnv(t)
	if err := e.sim.SetStreamOptions(dingtalksim.StreamOptions{LaterDelay: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitFor("connected", func() bool { return e.sim.StreamStats(appKey).Connections == 1 })
	if _, err := e.st.DB().Exec(`ALTER TABLE inbox_events RENAME TO inbox_events_away`); err != nil {
		t.Fatal(err)
	}
	e.mutate(2, "a")
	e.waitFor("refused while the inbox is away", func() bool { return e.sim.StreamStats(appKey).Later >= 2 })
	if st := e.sim.StreamStats(appKey); st.Acked != 0 {
		t.Fatalf("%d events acknowledged without being stored", st.Acked)
	}
	if _, err := e.st.DB().Exec(`ALTER TABLE inbox_events_away RENAME TO inbox_events`); err != nil {
		t.Fatal(err)
	}
	e.waitFor("stored once the inbox is back", func() bool { return e.inbox() == 2 })
	e.waitFor("acknowledged", func() bool { return e.sim.StreamStats(appKey).Acked == 2 })
	if e.outcome(OutcomeStoreFailed) < 2 {
		t.Fatalf("store failures counted %v", e.outcome(OutcomeStoreFailed))
	}
}
