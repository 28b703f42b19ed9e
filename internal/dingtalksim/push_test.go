package dingtalksim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
)

func TestPushesDecryptAndVerify(t *testing.T) {
	e := newEnv(t, noQPS)
	rc := newReceiver(t)
	tok := e.token(testKey, testSecret)
	e.register(tok, APICallbackRegister, []string{EventUserAddOrg, EventUserLeaveOrg, EventDeptCreate}, rc.srv.URL+"/cb?corp="+testCorp, CodeOK)
	if rc.checks() != 1 {
		t.Fatalf("%d check_url pushes at registration, want 1", rc.checks())
	}
	ids := e.addUsers(1, "push")
	u := e.sim.Truth(testCorp).Users[3]
	u.Title = "不推送"
	_, err := e.sim.UpdateUser(testCorp, u) // user_modify_org: not subscribed
	check(t, err)
	check(t, e.sim.RemoveUser(testCorp, ids[0]))
	d, err := e.sim.AddDepartment(testCorp, Department{Name: "推送部", ParentID: 1})
	check(t, err)
	d.Name = "改名" // org_dept_modify: not subscribed
	_, err = e.sim.UpdateDepartment(testCorp, d)
	check(t, err)
	e.waitPushes()

	var want []Event
	for _, ev := range e.sim.Events(testCorp) {
		if ev.Type == EventUserAddOrg || ev.Type == EventUserLeaveOrg || ev.Type == EventDeptCreate {
			want = append(want, ev)
		}
	}
	got := rc.events()
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("received %d pushes of %d subscribed events, want 3", len(got), len(want))
	}
	for i, p := range got {
		w := want[i]
		ev := p.event
		if ev.ID != w.ID || ev.Type != w.Type || ev.CorpID != testCorp || ev.Time.UnixMilli() != w.Time ||
			!slices.Equal(ev.UserIDs, w.UserIDs) || !slices.Equal(ev.DeptIDs, w.DeptIDs) {
			t.Fatalf("push %d = %+v, want %+v", i, ev, w)
		}
		var doc map[string]json.RawMessage
		check(t, json.Unmarshal(p.raw, &doc))
		idKey := "UserId"
		if w.Type == EventDeptCreate {
			idKey = "DeptId"
		}
		if keys := slices.Sorted(maps.Keys(doc)); !slices.Equal(keys, slices.Sorted(slices.Values([]string{"CorpId", "EventType", "TimeStamp", "eventId", idKey}))) {
			t.Fatalf("push %d plaintext %s has keys %v", i, p.raw, keys)
		}
		q := p.query
		if q.Get("corp") != testCorp || q.Get("signature") != q.Get("msg_signature") || len(q.Get("nonce")) != 8 ||
			q.Get("timestamp") != strconv.FormatInt(e.clock.Now().UnixMilli(), 10) {
			t.Fatalf("push %d query %v", i, q)
		}
	}
	st := e.sim.PushStats(testCorp)
	if !maps.Equal(st.Outcomes, map[string]int64{PushDelivered: 4}) || st.Queued != 0 || st.Failed != 0 {
		t.Fatalf("push stats %+v", st)
	}
	if p := e.failedResult(tok); len(p.FailedList) != 0 || p.HasMore {
		t.Fatalf("failed list %+v after deliveries", p)
	}
	if st := e.sim.PushStats("other"); len(st.Outcomes) != 0 {
		t.Fatalf("a corp without callback has pushes: %+v", st)
	}
}

func TestRegistrationChecksTheURL(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	tags := []string{EventUserAddOrg}
	down := newReceiver(t)
	down.srv.Close()
	e.register(tok, APICallbackRegister, tags, down.srv.URL, CodeCallbackURLCheck)

	rc := newReceiver(t)
	rc.setMisbehave(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"msg_signature":"x"}`)) })
	e.register(tok, APICallbackRegister, tags, rc.srv.URL, CodeCallbackURLCheck)
	if _, ok := e.sim.Callback(testCorp); ok {
		t.Fatal("a URL that failed check_url was registered")
	}
	rc.setMisbehave(nil)
	e.register(tok, APICallbackRegister, tags, rc.srv.URL, CodeOK)
	e.register(tok, APICallbackUpdate, tags, down.srv.URL, CodeCallbackURLCheck)
	if reg, _ := e.sim.Callback(testCorp); reg.URL != rc.srv.URL {
		t.Fatalf("a failed update replaced the registration: %+v", reg)
	}
	check(t, e.sim.SetPushOptions(PushOptions{SkipURLCheck: true}))
	e.register(tok, APICallbackUpdate, tags, down.srv.URL, CodeOK)
	if rc.checks() != 2 {
		t.Fatalf("%d check_url pushes reached the receiver, want 2", rc.checks())
	}
	if st := e.sim.PushStats(testCorp); st.Outcomes[PushError] != 2 || st.Outcomes[PushBadReply] != 1 || st.Outcomes[PushDelivered] != 1 || st.Failed != 0 {
		t.Fatalf("push stats %+v: check_url failures must be counted, not listed as failed", st)
	}
}

func TestFailedPushesAreListedOnce(t *testing.T) {
	slowReply := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}
	tests := []struct {
		name      string
		misbehave func(w http.ResponseWriter, r *http.Request)
		down      bool
		want      string
	}{
		{"HTTP 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", 500) }, false, PushBadReply},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("success")) }, false, PushBadReply},
		{"encrypted fail", func(w http.ResponseWriter, _ *http.Request) {
			c, _ := callback.NewCrypter(testCallbackToken, testAESKey, testCorp)
			enc, sig, _ := c.Encrypt([]byte("fail"), "1", "n")
			_ = json.NewEncoder(w).Encode(callback.Reply{MsgSignature: sig, TimeStamp: "1", Nonce: "n", Encrypt: enc})
		}, false, PushBadReply},
		{"signed with another token", func(w http.ResponseWriter, _ *http.Request) {
			c, _ := callback.NewCrypter("anothertoken", testAESKey, testCorp)
			r, _ := c.SuccessReply("1", "n")
			_ = json.NewEncoder(w).Encode(r)
		}, false, PushBadReply},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, false, PushBadReply},
		{"too slow", slowReply, false, PushTimeout},
		{"receiver down", nil, true, PushError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, noQPS)
			rc := newReceiver(t)
			tok := e.token(testKey, testSecret)
			e.register(tok, APICallbackRegister, []string{EventUserAddOrg}, rc.srv.URL, CodeOK)
			check(t, e.sim.SetPushOptions(PushOptions{Timeout: 200 * time.Millisecond}))
			rc.setMisbehave(tt.misbehave)
			if tt.down {
				rc.srv.Close()
			}
			ids := e.addUsers(2, "fail")
			e.waitPushes()
			p := e.failedResult(tok)
			if len(p.FailedList) != 2 || p.HasMore {
				t.Fatalf("failed list %+v, want the 2 pushes", p)
			}
			for i, f := range p.FailedList {
				ev, err := callback.ParseEvent([]byte(f.CallbackData))
				if err != nil || f.Tag != EventUserAddOrg || f.CorpID != testCorp || f.EventTime != e.clock.Now().UnixMilli() ||
					!slices.Equal(ev.UserIDs, ids[i:i+1]) || ev.ID == "" {
					t.Fatalf("failed push %d = %+v (%v)", i, f, err)
				}
			}
			if p := e.failedResult(tok); len(p.FailedList) != 0 || p.HasMore {
				t.Fatalf("failed pushes handed out twice: %+v", p)
			}
			if st := e.sim.PushStats(testCorp); st.Outcomes[tt.want] != 2 || st.Outcomes[PushDelivered] != 1 {
				t.Fatalf("push stats %+v, want 2 %s", st, tt.want)
			}
		})
	}
}

func TestFailedListPagesBy200(t *testing.T) {
	e := newEnv(t, noQPS)
	rc := newReceiver(t)
	tok := e.token(testKey, testSecret)
	e.register(tok, APICallbackRegister, []string{EventDeptCreate}, rc.srv.URL, CodeOK)
	check(t, e.sim.SetPushOptions(PushOptions{DropToFailedList: true}))
	for i := range 250 {
		_, err := e.sim.AddDepartment(testCorp, Department{Name: fmt.Sprintf("失败%03d", i), ParentID: 1})
		check(t, err)
	}
	e.waitPushes()
	if len(rc.events()) != 0 {
		t.Fatalf("DropToFailedList sent %d pushes", len(rc.events()))
	}
	var order []string
	for _, want := range []struct {
		n    int
		more bool
	}{{200, true}, {50, false}, {0, false}} {
		p := e.failedResult(tok)
		if len(p.FailedList) != want.n || p.HasMore != want.more {
			t.Fatalf("page of %d (has_more %v), want %d (%v)", len(p.FailedList), p.HasMore, want.n, want.more)
		}
		for _, f := range p.FailedList {
			ev, err := callback.ParseEvent([]byte(f.CallbackData))
			check(t, err)
			order = append(order, ev.ID)
		}
	}
	var want []string
	for _, ev := range e.sim.Events(testCorp) {
		want = append(want, ev.ID)
	}
	if !slices.Equal(order, want) {
		t.Fatal("failed pushes are not listed in event order")
	}
	if st := e.sim.PushStats(testCorp); st.Outcomes[PushDropped] != 250 {
		t.Fatalf("push stats %+v", st)
	}
}

func TestAdminPush(t *testing.T) {
	e, rc := newPushEnv(t, PushOptions{})
	status, raw := e.do(http.MethodPut, "/_sim/push", nil, []byte(`{"paused":true,"delayMs":5,"reorderWindow":3}`))
	var body pushBody
	if status != http.StatusOK || json.Unmarshal(raw, &body) != nil || !*body.Paused || *body.DelayMs != 5 || *body.ReorderWindow != 3 || *body.DuplicateRate != 0 {
		t.Fatalf("PUT /_sim/push: %d %s", status, raw)
	}
	e.addUsers(2, "adm")
	if status, raw = e.do(http.MethodPut, "/_sim/push", nil, []byte(`{"paused":false}`)); status != http.StatusOK {
		t.Fatalf("unpause: %d %s", status, raw)
	}
	if o := e.sim.CurrentPushOptions(); o.Paused || o.Delay != 5*time.Millisecond || o.ReorderWindow != 3 {
		t.Fatalf("options after a partial PUT: %+v", o)
	}
	e.waitPushes()
	var st struct {
		CorpID string `json:"corpId"`
		PushStats
	}
	status, raw = e.get("/_sim/pushes?corpId=" + testCorp)
	if status != http.StatusOK || json.Unmarshal(raw, &st) != nil || st.CorpID != testCorp || st.Outcomes[PushDelivered] != 3 || len(rc.events()) != 2 {
		t.Fatalf("GET /_sim/pushes: %d %s", status, raw)
	}
	for _, bad := range []string{`{"duplicateRate":2}`, `{"delayMs":-1}`, `{"bogus":1}`} {
		if status, raw := e.do(http.MethodPut, "/_sim/push", nil, []byte(bad)); status != http.StatusBadRequest {
			t.Fatalf("PUT %s: %d %s", bad, status, raw)
		}
	}
}

func TestPushConcurrencyBoundsInFlightPushes(t *testing.T) {
	for _, tc := range []struct{ concurrency, want int }{{0, 1}, {4, 4}} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			e := newEnv(t, noQPS)
			rc := newReceiver(t)
			e.register(e.token(testKey, testSecret), APICallbackRegister, []string{EventUserAddOrg}, rc.srv.URL, CodeOK)
			var mu sync.Mutex
			inFlight, most := 0, 0
			rc.setMisbehave(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				time.Sleep(30 * time.Millisecond)
				mu.Lock()
				inFlight--
				mu.Unlock()
				http.Error(w, "busy", http.StatusServiceUnavailable)
			})
			check(t, e.sim.SetPushOptions(PushOptions{Concurrency: tc.concurrency}))
			e.addUsers(12, "conc")
			e.waitPushes()
			if most != tc.want {
				t.Fatalf("Concurrency %d: at most %d pushes in flight, want %d", tc.concurrency, most, tc.want)
			}
			if st := e.sim.PushStats(testCorp); st.Outcomes[PushBadReply] != 12 || st.Failed != 12 {
				t.Fatalf("push stats %+v, want 12 bad replies in the failed list", st)
			}
		})
	}
}
