package notify_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/notify"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

const (
	corpID  = "dingnotify1"
	appKey  = "dingnotifykey"
	secret  = "notify-secret"
	agentID = 4242
)

var chinaTime = time.FixedZone("CST", 8*3600)

// clock is a settable clock the sender and the simulator share.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a bound corp whose first three users are HR admins, in the store and in a
// simulated DingTalk, and a Sender between them.
type fixture struct {
	t      *testing.T
	st     *store.Store
	sim    *dingtalksim.Server
	sender *notify.Sender
	clock  *clock
	admins []string
	users  []string
}

func newFixture(t *testing.T, agent int64) *fixture {
	t.Helper()
	ctx := context.Background()
	// The clock starts now: the store stamps new notifications with the database's time.
	f := &fixture{t: t, st: testenv.NewStore(t), clock: &clock{now: time.Now()}}
	f.sim = dingtalksim.New(dingtalksim.Options{Clock: f.clock.Now, TokenTTL: 1000 * time.Hour})
	if err := f.sim.LoadOrg(dingtalksim.GenerateOrg(corpID, dingtalksim.OrgSpec{Seed: 5, Employees: 160})); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.AddApp(dingtalksim.App{CorpID: corpID, AppKey: appKey, AppSecret: secret, AgentID: agentID}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.sim)
	t.Cleanup(srv.Close)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Bind(ctx, store.BindInput{CorpID: corpID, AppKey: appKey, AgentID: agent, Actor: "test",
		SealSecret: func(sc string) ([]byte, error) { return box.Seal(secret, sc) }}); err != nil {
		t.Fatal(err)
	}
	for _, u := range f.sim.Truth(corpID).Users {
		f.users = append(f.users, u.UserID)
	}
	f.admins = f.users[:3]
	for _, u := range f.admins {
		f.exec(`INSERT INTO employee_roles (corp_id, userid, role, scope_dept_id, rule) VALUES ($1, $2, 'hr_admin', 0, 'org_admin')`, corpID, u)
	}
	client := dingtalk.New(dingtalk.Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL, QPS: 1000, MaxAttempts: 2})
	f.sender = &notify.Sender{Store: f.st, DingTalk: client, Secrets: box, Metrics: metrics.New(), Every: time.Second,
		ResultDelay: 10 * time.Second, Clock: f.clock.Now}
	return f
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.st.DB().Exec(q, args...); err != nil {
		f.t.Fatal(err)
	}
}

// enqueue writes a notification and fails the test unless it is new.
func (f *fixture) enqueue(key, msg string) {
	f.t.Helper()
	ok, err := f.st.EnqueueNotification(context.Background(), store.NewNotification{CorpID: corpID, Kind: store.NotifyRunFailed, DedupeKey: key, Message: msg})
	if err != nil || !ok {
		f.t.Fatalf("enqueue %s: %v, inserted %v", key, err, ok)
	}
}

// drain runs the sender until nothing is due.
func (f *fixture) drain() {
	f.t.Helper()
	if _, err := f.sender.Drain(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// settle sends what is due, then lets the result delay pass and checks the results.
func (f *fixture) settle() {
	f.t.Helper()
	f.drain()
	f.clock.Advance(f.sender.ResultDelay)
	f.drain()
}

// byKey returns the corp's notifications by dedupe key.
func (f *fixture) byKey() map[string]store.Notification {
	f.t.Helper()
	list, err := f.st.ListNotifications(context.Background(), corpID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]store.Notification{}
	for _, n := range list {
		out[n.DedupeKey] = n
	}
	return out
}

func (f *fixture) received(userID string) int { return len(f.sim.Messages(corpID, userID)) }

func (f *fixture) sends() int64 { return f.sim.Calls(corpID)[dingtalksim.APIMessageAsyncSend] }

func (f *fixture) counted(kind, result string) float64 {
	var m dto.Metric
	if err := f.sender.Metrics.Notifications.WithLabelValues(kind, result).Write(&m); err != nil {
		f.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestSendsToTheHRAdminsAndRecordsWhatEachGot(t *testing.T) {
	f := newFixture(t, agentID)
	f.enqueue("run_failed/run/1", "【dingsync】sync failed. What to do: starter runs --corp-id "+corpID)
	f.drain()
	n := f.byKey()["run_failed/run/1"]
	if n.Status != store.NotificationSent || n.CheckedAt != nil || len(n.TaskIDs) != 1 || len(n.Recipients) != 3 {
		t.Fatalf("after the send: %+v", n)
	}
	for _, a := range f.admins {
		if f.received(a) != 1 || n.Results[a].Status != store.RecipientSent {
			t.Fatalf("admin %s: received %d, result %+v", a, f.received(a), n.Results[a])
		}
	}
	f.sim.MarkMessagesRead(corpID, f.admins[0])
	f.clock.Advance(f.sender.ResultDelay)
	f.drain()
	n = f.byKey()["run_failed/run/1"]
	if n.Status != store.NotificationSent || n.CheckedAt == nil || n.Results[f.admins[0]].Status != store.RecipientRead ||
		n.Results[f.admins[1]].Status != store.RecipientUnread || n.Reason != "" {
		t.Fatalf("after the check: %+v", n)
	}
	if got := f.counted(store.NotifyRunFailed, "sent"); got != 1 {
		t.Fatalf("dingsync_notifications_total{run_failed,sent} = %v, want 1", got)
	}
}

// DingTalk answers asyncsend_v2 with success even when it drops the message over a limit:
// the sender must find that out from getsendresult.
func TestASilentDropIsDetected(t *testing.T) {
	f := newFixture(t, agentID)
	msg := "【dingsync】the same words another system sent"
	// Another system on the same app already sent admin 0 this exact content today, and
	// admin 1 reached the (lowered) daily cap: dingsync cannot know either.
	f.sim.SetMessagesPerUserDaily(1)
	app := dingtalk.App{CorpID: corpID, AppKey: appKey, AppSecret: secret, CredentialVersion: 1}
	for i, content := range []string{msg, "something else"} {
		if _, err := f.sender.DingTalk.SendTextMessage(context.Background(), app, dingtalk.TextMessage{AgentID: agentID,
			UserIDs: []string{f.admins[i]}, Content: content}); err != nil {
			t.Fatal(err)
		}
	}
	f.enqueue("k1", msg)
	f.settle()
	n := f.byKey()["k1"]
	r0, r1, r2 := n.Results[f.admins[0]], n.Results[f.admins[1]], n.Results[f.admins[2]]
	if r0.Status != store.RecipientForbidden || r0.Code != dingtalk.ForbiddenDuplicate ||
		r1.Status != store.RecipientForbidden || r1.Code != dingtalk.ForbiddenDailyLimit || r2.Status != store.RecipientUnread {
		t.Fatalf("results %+v", n.Results)
	}
	if n.Status != store.NotificationSent || !strings.Contains(n.Reason, "delivered to 1 of 3") || !strings.Contains(n.Reason, "143105") {
		t.Fatalf("status %s, reason %q", n.Status, n.Reason)
	}

	// Dropped for everyone: the notification is dropped, not sent.
	f.enqueue("k2", "something else")
	f.sim.SetMessagesPerUserDaily(0)
	if _, err := f.st.SetNotificationSettings(context.Background(), corpID, "test", store.NotificationSettingsUpdate{Recipients: []string{f.admins[1]}}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	if n := f.byKey()["k2"]; n.Status != store.NotificationDropped || n.Results[f.admins[1]].Code != dingtalk.ForbiddenDuplicate {
		t.Fatalf("a message DingTalk dropped for its only recipient: %+v", n)
	}
	if got := f.counted(store.NotifyRunFailed, "dropped"); got != 1 {
		t.Fatalf("dingsync_notifications_total{run_failed,dropped} = %v, want 1", got)
	}
}

func TestTheSameMessageIsHeldBackTheSameDayAndSentTheNext(t *testing.T) {
	f := newFixture(t, agentID)
	msg := "【dingsync】credentials invalid. What to do: starter rotate"
	f.enqueue("run/1", msg)
	f.settle()
	sends := f.sends()
	f.enqueue("run/2", msg)
	f.enqueue("run/3", msg+" (another)")
	f.settle()
	byKey := f.byKey()
	if n := byKey["run/2"]; n.Status != store.NotificationDropped || !strings.Contains(n.Reason, "same message today") ||
		n.Results[f.admins[0]].Status != store.RecipientHeld || len(n.TaskIDs) != 0 {
		t.Fatalf("the same message again the same day: %+v", n)
	}
	if byKey["run/3"].Status != store.NotificationSent || f.sends() != sends+1 {
		t.Fatalf("a different message: %+v; asyncsend calls %d → %d, want one more", byKey["run/3"], sends, f.sends())
	}
	for _, a := range f.admins {
		if f.received(a) != 2 {
			t.Fatalf("admin %s received %d messages, want 2", a, f.received(a))
		}
	}
	f.clock.Advance(24 * time.Hour)
	f.enqueue("run/4", msg)
	f.settle()
	if n := f.byKey()["run/4"]; n.Status != store.NotificationSent || f.received(f.admins[0]) != 3 {
		t.Fatalf("the same message the next day: %+v", n)
	}
}

func TestAtMost100UserIDsPerCall(t *testing.T) {
	f := newFixture(t, agentID)
	if _, err := f.st.SetNotificationSettings(context.Background(), corpID, "test",
		store.NotificationSettingsUpdate{Recipients: append([]string{store.RecipientsHRAdmins}, f.users[:150]...)}); err != nil {
		t.Fatal(err)
	}
	f.enqueue("k", "to many people")
	f.settle()
	n := f.byKey()["k"]
	if len(n.TaskIDs) != 2 || f.sends() != 2 || len(n.Recipients) != 150 || n.Status != store.NotificationSent {
		t.Fatalf("150 recipients: %d tasks, %d calls, %d recipients, status %s", len(n.TaskIDs), f.sends(), len(n.Recipients), n.Status)
	}
	for _, u := range f.users[:150] {
		if f.received(u) != 1 || n.Results[u].Status != store.RecipientUnread {
			t.Fatalf("%s: received %d, result %+v", u, f.received(u), n.Results[u])
		}
	}
}

func TestWhatCannotBeSentFailsWithTheFix(t *testing.T) {
	f := newFixture(t, 0)
	f.enqueue("k", "no agent")
	f.drain()
	if n := f.byKey()["k"]; n.Status != store.NotificationFailed || !strings.Contains(n.Reason, "starter bind") || !strings.Contains(n.Reason, "--agent-id") {
		t.Fatalf("without an agent id: %+v", n)
	}
	if f.sends() != 0 || f.counted(store.NotifyRunFailed, "failed") != 1 {
		t.Fatalf("%d sends, failed counted %v", f.sends(), f.counted(store.NotifyRunFailed, "failed"))
	}
	off := false
	if _, err := f.st.SetNotificationSettings(context.Background(), corpID, "test", store.NotificationSettingsUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	f.enqueue("k2", "off")
	f.drain()
	if n := f.byKey()["k2"]; n.Status != store.NotificationDropped || !strings.Contains(n.Reason, "--on") {
		t.Fatalf("with notifications off: %+v", n)
	}
}

// While DingTalk refuses the credentials the notification waits and is retried; once they
// work again it goes out, once.
func TestRefusedCredentialsAreRetriedUntilTheyWork(t *testing.T) {
	f := newFixture(t, agentID)
	if err := f.sim.SetAppSecret(appKey, "reset-in-console"); err != nil {
		t.Fatal(err)
	}
	f.enqueue("k", "credentials invalid")
	for i := 0; i < 3; i++ {
		f.drain()
		f.clock.Advance(time.Minute)
	}
	n := f.byKey()["k"]
	if n.Status != store.NotificationPending || n.Attempts != 3 || !strings.Contains(n.Reason, "AppKey/AppSecret") || strings.Contains(n.Reason, secret) {
		t.Fatalf("while the secret is refused: %+v", n)
	}
	if err := f.sim.SetAppSecret(appKey, secret); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	f.settle()
	if n := f.byKey()["k"]; n.Status != store.NotificationSent || f.received(f.admins[0]) != 1 {
		t.Fatalf("after the fix: %+v", n)
	}
}

// Several workers drain the same outbox: each notification goes out once.
func TestConcurrentSendersSendEachNotificationOnce(t *testing.T) {
	f := newFixture(t, agentID)
	for i := 0; i < 12; i++ {
		f.enqueue(fmt.Sprintf("k%d", i), fmt.Sprintf("message %d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		other := *f.sender
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := other.Drain(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if f.sends() != 12 {
		t.Fatalf("%d asyncsend calls for 12 notifications", f.sends())
	}
	for _, a := range f.admins {
		if f.received(a) != 12 {
			t.Fatalf("admin %s received %d, want 12", a, f.received(a))
		}
	}
}
