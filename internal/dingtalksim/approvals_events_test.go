package dingtalksim

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalk"
)

// startLeave starts a leave request of the corp's fourth user.
func (e *env) startLeave() ApprovalInstance {
	e.t.Helper()
	u := e.sim.Truth(testCorp).Users[3]
	inst, err := e.sim.AddApprovalInstance(testCorp, ApprovalInstance{ProcessCode: ProcessLeave, OriginatorUserID: u.UserID,
		FormValues: LeaveForm("年假", e.clock.Now(), e.clock.Now(), 1, "day")})
	check(e.t, err)
	return inst
}

func TestApprovalChangesArePushedToSubscribedCallbacksAsDingTalkDoes(t *testing.T) {
	e := newEnv(t, noQPS)
	rc := newReceiver(t)
	tok := e.token(testKey, testSecret)
	e.register(tok, APICallbackRegister, []string{EventUserAddOrg, EventApprovalChange}, rc.srv.URL+"/cb", CodeOK)
	inst := e.startLeave()
	_, err := e.sim.SetApprovalStatus(testCorp, inst.ID, ApprovalRunning, "") // no event: DingTalk has none
	check(t, err)
	decided, err := e.sim.SetApprovalStatus(testCorp, inst.ID, ApprovalCompleted, ResultRefuse)
	check(t, err)
	withdrawn, err := e.sim.AddApprovalInstance(testCorp, ApprovalInstance{ProcessCode: ProcessTrip,
		OriginatorUserID: inst.OriginatorUserID, Status: ApprovalTerminated})
	check(t, err)
	e.waitPushes()

	got := rc.events()
	want := []struct{ instance, change, result string }{{inst.ID, "start", ""}, {inst.ID, "finish", "refuse"},
		{withdrawn.ID, "start", ""}, {withdrawn.ID, "terminate", ""}}
	var recorded []Event
	for _, ev := range e.sim.Events(testCorp) {
		if ev.Type == EventApprovalChange {
			recorded = append(recorded, ev)
		}
	}
	if len(got) != len(want) || len(recorded) != len(want) {
		t.Fatalf("%d pushes, %d events recorded; want %d", len(got), len(recorded), len(want))
	}
	for i, p := range got {
		a := p.event.Approval
		if p.event.Type != EventApprovalChange || p.event.ID != recorded[i].ID || p.event.CorpID != testCorp || a == nil ||
			a.InstanceID != want[i].instance || a.Change != want[i].change || a.Result != want[i].result {
			t.Fatalf("push %d = %+v %+v, want %+v", i, p.event, a, want[i])
		}
		var doc map[string]json.RawMessage
		check(t, json.Unmarshal(p.raw, &doc))
		keys := []string{"EventType", "corpId", "eventId", "processInstanceId", "processCode", "type", "title", "staffId", "createTime", "url"}
		if i == 1 { // a decision sets the finish time; the instance added withdrawn has none
			keys = append(keys, "finishTime")
		}
		if want[i].result != "" {
			keys = append(keys, "result")
		}
		if k := slices.Sorted(maps.Keys(doc)); !slices.Equal(k, slices.Sorted(slices.Values(keys))) {
			t.Fatalf("push %d plaintext %s has keys %v", i, p.raw, k)
		}
	}
	if a := got[1].event.Approval; a.ProcessCode != ProcessLeave || a.StaffID != inst.OriginatorUserID ||
		!a.FinishTime.Equal(decided.FinishTime.Truncate(time.Millisecond)) || a.Title != inst.Title {
		t.Fatalf("the finish push says %+v of %+v", a, decided)
	}
}

func TestApprovalChangesSkipCallbacksWithoutTheTagAndFailToTheBpmsField(t *testing.T) {
	e := newEnv(t, noQPS)
	rc := newReceiver(t)
	tok := e.token(testKey, testSecret)
	e.register(tok, APICallbackRegister, []string{EventUserAddOrg}, rc.srv.URL+"/cb", CodeOK)
	e.startLeave()
	e.waitPushes()
	if n := len(rc.events()); n != 0 {
		t.Fatalf("%d pushes to a callback not subscribed to %s", n, EventApprovalChange)
	}
	e.register(tok, APICallbackUpdate, []string{EventUserAddOrg, EventApprovalChange}, rc.srv.URL+"/cb", CodeOK)
	check(t, e.sim.SetPushOptions(PushOptions{DropToFailedList: true}))
	inst := e.startLeave()
	e.waitPushes()
	page := e.failedResult(tok)
	if len(page.FailedList) != 1 {
		t.Fatalf("failed list %+v, want the one start", page)
	}
	f := page.FailedList[0]
	if f.Tag != EventApprovalChange || f.CallbackData != "" || len(f.BpmsCallBackData) == 0 || f.BpmsCallBackData[0] != '{' {
		t.Fatalf("failed push %+v: want the payload as an object under bpmsCallBackData", f)
	}
	// dingsync's client reads it back to the instance.
	raw, err := json.Marshal(f)
	check(t, err)
	var client dingtalk.FailedPush
	check(t, json.Unmarshal(raw, &client))
	ev, err := client.Event()
	if err != nil || ev.Approval == nil || ev.Approval.InstanceID != inst.ID || ev.Approval.Change != callback.ApprovalStart {
		t.Fatalf("the failed push parses to %+v, %v", ev, err)
	}
}

func TestApprovalChangesGoToStreamAppsWithTheirData(t *testing.T) {
	e := newEnv(t, noQPS)
	c := e.connectStream()
	inst := e.startLeave()
	f := c.next(streamEvent, 2*time.Second)
	c.ack(f)
	if f.Headers["eventType"] != EventApprovalChange || f.Headers["eventCorpId"] != testCorp {
		t.Fatalf("frame headers %v", f.Headers)
	}
	d := dataOf(t, f)
	if d["processInstanceId"] != inst.ID || d["processCode"] != ProcessLeave || d["type"] != "start" || d["corpId"] != testCorp {
		t.Fatalf("frame data %v", d)
	}
	frame := dingtalk.StreamFrame{Type: f.Type, Headers: f.Headers, Data: f.Data}
	ev, err := frame.ContactEvent()
	if err != nil || ev.Approval == nil || ev.Approval.InstanceID != inst.ID || ev.ID != f.Headers["eventId"] {
		t.Fatalf("dingsync parses the frame to %+v, %v", ev, err)
	}
}
