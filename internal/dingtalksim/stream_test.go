package dingtalksim

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestStreamOpenChecksCredentialsAndTickets(t *testing.T) {
	e := newEnv(t, noQPS)
	events := `[{"type":"EVENT","topic":"*"}]`
	for _, c := range []struct {
		name, key, secret, subs string
		status                  int
		code                    string
	}{
		{"wrong secret", testKey, "wrong", events, http.StatusUnauthorized, APICodeBadCredentials},
		{"unknown app", "nobody", testSecret, events, http.StatusUnauthorized, APICodeBadCredentials},
		{"no subscriptions", testKey, testSecret, `[]`, http.StatusBadRequest, APICodeInvalidParam},
		{"bad subscription", testKey, testSecret, `[{"type":"NEWS","topic":"*"}]`, http.StatusBadRequest, APICodeInvalidParam},
	} {
		status, _, raw := e.openStream(c.key, c.secret, c.subs)
		var body apiErrorBody
		_ = json.Unmarshal(raw, &body)
		if status != c.status || body.Code != c.code {
			t.Errorf("%s: HTTP %d %q, want %d %q: %s", c.name, status, body.Code, c.status, c.code, raw)
		}
	}
	status, ep, raw := e.openStream(testKey, testSecret, events)
	if status != http.StatusOK || ep.Ticket == "" || ep.Endpoint != "ws"+strings.TrimPrefix(e.srv.URL, "http")+StreamConnectPath {
		t.Fatalf("open: HTTP %d: %s", status, raw)
	}
	for _, ticket := range []string{"", "forged"} {
		if _, resp, err := websocket.Dial(context.Background(), ep.Endpoint+"?ticket="+ticket, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("dial with ticket %q: %v, want HTTP 401", ticket, err)
		}
	}
	e.dialStream(ep)
	if _, resp, err := websocket.Dial(context.Background(), ep.Endpoint+"?ticket="+ep.Ticket, nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a ticket used twice: %v, want HTTP 401", err)
	}
	waitUntil(t, func() bool { return e.sim.StreamStats(testKey).Connections == 1 })
	if st := e.sim.StreamStats(testKey); st.Opens != 1 || st.Connects != 1 {
		t.Fatalf("stats %+v, want one open and one connection", st)
	}
}

func TestStreamSendsEventFramesAndRedeliversUntilAcked(t *testing.T) {
	e := newEnv(t, noQPS)
	e.setStream(StreamOptions{AckTimeout: 300 * time.Millisecond})
	c := e.connectStream()
	ev := e.renameUser(3, "架构师")
	f := c.next(streamEvent, 2*time.Second)
	want := map[string]string{"topic": "*", "contentType": "application/json", "eventId": ev.ID, "eventType": EventUserModifyOrg,
		"eventCorpId": testCorp, "eventBornTime": strconv.FormatInt(ev.Time, 10)}
	for k, v := range want {
		if f.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, f.Headers[k], v)
		}
	}
	if f.SpecVersion == "" || f.Headers["messageId"] == "" || f.Headers["eventUnifiedAppId"] == "" {
		t.Errorf("frame lacks specVersion, messageId or eventUnifiedAppId: %+v", f)
	}
	data := dataOf(t, f)
	if data["timeStamp"] != strconv.FormatInt(ev.Time, 10) || len(data["userId"].([]any)) != 1 || data["userId"].([]any)[0] != ev.UserIDs[0] {
		t.Fatalf("data %s, want timeStamp and userId of %+v", f.Data, ev)
	}
	// Not acknowledged: the same event comes again with a new messageId.
	again := c.next(streamEvent, 2*time.Second)
	if again.Headers["eventId"] != ev.ID || again.Headers["messageId"] == f.Headers["messageId"] {
		t.Fatalf("redelivery %+v, want event %s under a new messageId", again.Headers, ev.ID)
	}
	// LATER: sent again after LaterDelay.
	c.reply(again, 500, `{"status":"LATER","message":"later"}`)
	third := c.next(streamEvent, 3*time.Second)
	if third.Headers["eventId"] != ev.ID {
		t.Fatalf("after LATER got %+v", third.Headers)
	}
	c.ack(third)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.sim.WaitStreamIdle(ctx, testKey); err != nil {
		t.Fatal(err)
	}
	c.none(streamEvent, 500*time.Millisecond)
	st := e.sim.StreamStats(testKey)
	if st.Sent != 3 || st.Acked != 1 || st.TimedOut != 1 || st.Later != 1 || st.Redelivered != 2 || st.Queued+st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamDepartmentEventsAndDuplicates(t *testing.T) {
	e := newEnv(t, noQPS)
	e.setStream(StreamOptions{DuplicateRate: 1})
	c := e.connectStream()
	d := e.sim.Truth(testCorp).Departments[2]
	d.Name = "新名字"
	if _, err := e.sim.UpdateDepartment(testCorp, d); err != nil {
		t.Fatal(err)
	}
	first, second := c.next(streamEvent, 2*time.Second), c.next(streamEvent, 2*time.Second)
	if first.Headers["eventId"] != second.Headers["eventId"] || first.Headers["messageId"] == second.Headers["messageId"] {
		t.Fatalf("a duplicated event: %+v and %+v", first.Headers, second.Headers)
	}
	if first.Headers["eventType"] != EventDeptModify || first.Data != `{"deptId":[`+strconv.FormatInt(d.ID, 10)+`]}` {
		t.Fatalf("department event %+v %s", first.Headers, first.Data)
	}
	c.ack(first)
	c.ack(second)
	if st := e.sim.StreamStats(testKey); st.Duplicated != 1 {
		t.Fatalf("stats %+v, want one duplicated event", st)
	}
}

func TestStreamPingsAndDropsAConnectionThatDoesNotAnswer(t *testing.T) {
	e := newEnv(t, noQPS)
	e.setStream(StreamOptions{PingInterval: 150 * time.Millisecond})
	c := e.connectStream()
	ping := c.next(streamSystem, 2*time.Second)
	if ping.Headers["topic"] != "ping" || !strings.Contains(ping.Data, "opaque") {
		t.Fatalf("ping %+v", ping)
	}
	c.reply(ping, 200, ping.Data)
	c.next(streamSystem, 2*time.Second) // the next ping, left unanswered
	c.waitClosed(2 * time.Second)
	if st := e.sim.StreamStats(testKey); st.Pongs < 1 || st.Drops != 1 {
		t.Fatalf("stats %+v, want a pong and a drop", st)
	}
}

func TestStreamDisconnectAndDropLoseNothing(t *testing.T) {
	e := newEnv(t, noQPS)
	e.setStream(StreamOptions{DisconnectGrace: 300 * time.Millisecond})
	c := e.connectStream()
	first := e.renameUser(1, "一")
	f := c.next(streamEvent, 2*time.Second) // left unacknowledged
	if n := e.sim.StreamDisconnect(testKey); n != 1 {
		t.Fatalf("disconnect told %d connections", n)
	}
	if d := c.next(streamSystem, 2*time.Second); d.Headers["topic"] != "disconnect" {
		t.Fatalf("got %+v, want a disconnect", d)
	}
	e.renameUser(2, "二")
	c.none(streamEvent, 200*time.Millisecond) // nothing new on a disconnecting connection
	c.waitClosed(2 * time.Second)

	c2 := e.connectStream()
	got := map[string]bool{}
	for range 2 {
		g := c2.next(streamEvent, 2*time.Second)
		got[g.Headers["eventId"]] = true
		c2.ack(g)
	}
	if !got[first.ID] || f.Headers["eventId"] != first.ID {
		t.Fatalf("the unacknowledged event %s was not sent again: %v", first.ID, got)
	}
	waitUntil(t, func() bool { return e.sim.StreamStats(testKey).Acked == 2 })
	third := e.renameUser(3, "三")
	c2.next(streamEvent, 2*time.Second) // in flight when the connection drops
	if n := e.sim.StreamDrop(testKey); n != 1 {
		t.Fatalf("drop closed %d connections", n)
	}
	c2.waitClosed(2 * time.Second)
	c3 := e.connectStream()
	if g := c3.next(streamEvent, 2*time.Second); g.Headers["eventId"] != third.ID {
		t.Fatalf("after the drop got %+v, want %s again", g.Headers, third.ID)
	}
	if st := e.sim.StreamStats(testKey); st.Disconnects != 1 || st.Drops != 1 || st.Connects != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamAdminAPI(t *testing.T) {
	e := newEnv(t, noQPS)
	var o streamBody
	e.admin("PUT", "/_sim/stream", `{"ackTimeoutMs":1500,"duplicateRate":0.5}`, http.StatusOK, &o)
	if *o.AckTimeoutMs != 1500 || *o.DuplicateRate != 0.5 || *o.Window != defaultStreamWindow {
		t.Fatalf("options %+v", o)
	}
	e.admin("PUT", "/_sim/stream", `{"duplicateRate":2}`, http.StatusBadRequest, nil)
	e.admin("POST", "/_sim/stream/"+testKey+"/drop", ``, http.StatusNotFound, nil)
	c := e.connectStream()
	waitUntil(t, func() bool { return e.sim.StreamStats(testKey).Connections == 1 })
	var st StreamStats
	e.admin("GET", "/_sim/stream/"+testKey, ``, http.StatusOK, &st)
	if st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.admin("POST", "/_sim/stream/"+testKey+"/drop", ``, http.StatusOK, nil)
	c.waitClosed(2 * time.Second)
}

// waitUntil polls cond for up to 2 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2 s")
		}
	}
}
