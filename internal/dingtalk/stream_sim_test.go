package dingtalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// simStream is the Stream client running against the simulator.
type simStream struct {
	t      *testing.T
	sim    *dingtalksim.Server
	client *Client
	app    App
	logMu  sync.Mutex
	log    bytes.Buffer

	mu      sync.Mutex
	got     map[string]int // eventId → times handled
	failFor map[string]int // eventId → handler failures left
	gate    chan struct{}  // when set, the handler waits for it to close
	connect chan struct{}
}

func newSimStream(t *testing.T, secret string) *simStream {
	t.Helper()
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg("dingstreamcorp", dingtalksim.OrgSpec{Seed: 3, Employees: 60})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: "dingstreamcorp", AppKey: testAppKey, AppSecret: testSecret}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetStreamOptions(dingtalksim.StreamOptions{AckTimeout: 500 * time.Millisecond, PingInterval: 100 * time.Millisecond,
		DisconnectGrace: 300 * time.Millisecond, LaterDelay: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &simStream{t: t, sim: sim, client: New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL}),
		app: App{CorpID: "dingstreamcorp", AppKey: testAppKey, AppSecret: secret, CredentialVersion: 1},
		got: map[string]int{}, failFor: map[string]int{}, connect: make(chan struct{}, 10)}
}

// run starts RunStream until the test ends; it returns a channel that gets RunStream's error.
func (s *simStream) run() <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		s.logMu.Lock()
		defer s.logMu.Unlock()
		return s.log.Write(p)
	}), nil))
	go func() {
		done <- s.client.RunStream(ctx, func(context.Context) (App, error) { return s.app, nil }, s.handle,
			StreamOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: logger,
				OnConnect: func() { s.connect <- struct{}{} }})
	}()
	s.t.Cleanup(func() {
		cancel()
		<-done
	})
	return done
}

// logText is what the client logged so far.
func (s *simStream) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (s *simStream) handle(_ context.Context, f StreamFrame) error {
	ev, err := f.ContactEvent()
	if err != nil {
		s.t.Errorf("frame does not parse: %v", err)
		return nil
	}
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failFor[ev.ID] > 0 {
		s.failFor[ev.ID]--
		return errors.New("store is down")
	}
	s.got[ev.ID]++
	return nil
}

func (s *simStream) waitConnected() {
	s.t.Helper()
	select {
	case <-s.connect:
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no stream connection within 5 s; log:\n%s", s.logText())
	}
}

// mutate changes n users' titles and returns the events recorded.
func (s *simStream) mutate(n int, tag string) []dingtalksim.Event {
	s.t.Helper()
	users := s.sim.Truth("dingstreamcorp").Users
	for i := range n {
		u := users[i]
		u.Title = fmt.Sprintf("%s-%d", tag, i)
		if _, err := s.sim.UpdateUser("dingstreamcorp", u); err != nil {
			s.t.Fatal(err)
		}
	}
	evs := s.sim.Events("dingstreamcorp")
	return evs[len(evs)-n:]
}

// waitHandled waits until every event was handled at least once and the simulator has
// nothing in flight.
func (s *simStream) waitHandled(evs []dingtalksim.Event) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		missing := 0
		for _, ev := range evs {
			if s.got[ev.ID] == 0 {
				missing++
			}
		}
		s.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d events not handled; stats %+v; log:\n%s", missing, len(evs), s.sim.StreamStats(testAppKey), s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.sim.WaitStreamIdle(ctx, testAppKey); err != nil {
		s.t.Fatal(err)
	}
}

func TestRunStreamReceivesAcksAndReconnectsAgainstTheSimulator(t *testing.T) {
	s := newSimStream(t, testSecret)
	s.run()
	s.waitConnected()
	all := s.mutate(5, "a")
	s.waitHandled(all)

	// A handler failure answers LATER; the event comes back.
	later := s.mutate(1, "later")
	s.mu.Lock()
	s.failFor[later[0].ID] = 2
	s.mu.Unlock()
	s.waitHandled(later)

	if n := s.sim.StreamDisconnect(testAppKey); n != 1 {
		t.Fatalf("disconnect told %d connections", n)
	}
	s.waitConnected()
	afterDisconnect := s.mutate(5, "b")
	s.waitHandled(afterDisconnect)

	// Dropped with events in flight (the handler is busy): they come again on the next
	// connection.
	if err := s.sim.SetStreamOptions(dingtalksim.StreamOptions{AckTimeout: 5 * time.Second, PingInterval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	afterDrop := s.mutate(3, "c")
	for deadline := time.Now().Add(5 * time.Second); s.sim.StreamStats(testAppKey).InFlight < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("events not in flight: %+v", s.sim.StreamStats(testAppKey))
		}
	}
	s.sim.StreamDrop(testAppKey)
	s.mu.Lock()
	s.gate = nil
	s.mu.Unlock()
	close(gate)
	s.waitConnected()
	s.waitHandled(afterDrop)

	st := s.sim.StreamStats(testAppKey)
	if st.Connects < 3 || st.Disconnects != 1 || st.Drops != 1 || st.Pongs == 0 || st.Later == 0 {
		t.Fatalf("stats %+v: want 3 connections, a disconnect, a drop, answered pings and a LATER", st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range append(append(all, afterDisconnect...), afterDrop...) {
		if s.got[ev.ID] == 0 {
			t.Errorf("event %s lost", ev.ID)
		}
	}
	if strings.Contains(s.logText(), testSecret) {
		t.Fatal("the AppSecret is in the log")
	}
}

func TestOpenStreamWithAWrongSecretIsAuthAndNamesNoSecret(t *testing.T) {
	s := newSimStream(t, "wrong-"+testSecret)
	_, err := s.client.OpenStream(context.Background(), s.app, nil)
	if !IsKind(err, KindAuth) {
		t.Fatalf("error %v, want KindAuth", err)
	}
	if strings.Contains(err.Error(), s.app.AppSecret) {
		t.Fatalf("the error names the secret: %v", err)
	}
	done := s.run()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("RunStream gave up: %v", err)
	default:
	}
	if !strings.Contains(s.logText(), "auth") || strings.Contains(s.logText(), s.app.AppSecret) {
		t.Fatalf("the log should say auth and not hold the secret:\n%s", s.logText())
	}
}

func TestStreamDialFailuresNeverShowTheTicket(t *testing.T) {
	const ticket = "T1CKET-must-not-leak"
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := "ws" + strings.TrimPrefix(closed.URL, "http")
	closed.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad ticket", http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	for _, endpoint := range []string{closedURL + "/connect", "ws" + strings.TrimPrefix(refusing.URL, "http") + "/connect"} {
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"endpoint":%q,"ticket":%q}`, endpoint, ticket)
		}))
		c := New(Config{APIBaseURL: gw.URL, OAPIBaseURL: gw.URL})
		_, err := c.serveStream(context.Background(), testApp, func(context.Context, StreamFrame) error { return nil }, StreamOptions{}.withDefaults())
		gw.Close()
		if err == nil || strings.Contains(err.Error(), ticket) || strings.Contains(err.Error(), testSecret) {
			t.Errorf("dial %s: error %v, want one without the ticket or secret", endpoint, err)
		}
	}
}
