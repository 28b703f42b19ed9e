package callback

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseApprovalEvent(t *testing.T) {
	created, finished := time.UnixMilli(1495592259000), time.UnixMilli(1495592305000)
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{"HTTP push of a start (DingTalk's documented example)",
			`{"processInstanceId":"ad253df6-e175caf-68085c60ba8a","corpId":"ding2c015874d0bf4bab","createTime":1495592259000,
			  "title":"自测-1016","type":"start","staffId":"er5875","url":"https://aflow.dingtalk.com/x",
			  "EventType":"bpms_instance_change","processCode":"PROC-FF6Y4BE1N2-AG4I9X"}`,
			Event{Type: EventApprovalChange, CorpID: "ding2c015874d0bf4bab", Time: created, Approval: &ApprovalChange{
				InstanceID: "ad253df6-e175caf-68085c60ba8a", ProcessCode: "PROC-FF6Y4BE1N2-AG4I9X", Change: ApprovalStart,
				StaffID: "er5875", Title: "自测-1016", CreateTime: created}}},
		{"HTTP push of a refusal, with eventId: its time is the finish time",
			`{"EventType":"bpms_instance_change","eventId":"ev1","processInstanceId":"i-1","processCode":"PROC-1","corpId":"dingcorp",
			  "createTime":1495592259000,"finishTime":1495592305000,"type":"finish","result":"refuse","staffId":"u1","title":"t"}`,
			Event{ID: "ev1", Type: EventApprovalChange, CorpID: "dingcorp", Time: finished, Approval: &ApprovalChange{
				InstanceID: "i-1", ProcessCode: "PROC-1", Change: ApprovalFinish, Result: "refuse", StaffID: "u1", Title: "t",
				CreateTime: created, FinishTime: finished}}},
		{"Stream data with the headers merged: EventTime wins, times as strings",
			`{"EventType":"bpms_instance_change","eventId":"ev2","CorpId":"dingcorp","EventTime":"1700000000123",
			  "processInstanceId":"i-2","processCode":"PROC-2","type":"terminate","createTime":"1495592259000","bizCategoryId":""}`,
			Event{ID: "ev2", Type: EventApprovalChange, CorpID: "dingcorp", Time: time.UnixMilli(1700000000123), Approval: &ApprovalChange{
				InstanceID: "i-2", ProcessCode: "PROC-2", Change: ApprovalTerminate, CreateTime: created}}},
		{"fields of odd types are dropped, not refused",
			`{"EventType":"bpms_instance_change","eventId":"e","processInstanceId":"i-3","processCode":"PROC-3","type":7,"result":null,
			  "createTime":"yesterday","title":{"zh":"x"}}`,
			Event{ID: "e", Type: EventApprovalChange, Approval: &ApprovalChange{InstanceID: "i-3", ProcessCode: "PROC-3", Change: "7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.ID == "" {
				if !strings.HasPrefix(got.ID, "sha256:") {
					t.Fatalf("an event without eventId got id %q, want a content hash", got.ID)
				}
				tt.want.ID = got.ID
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %+v\nwant %+v %+v", got, got.Approval, tt.want, tt.want.Approval)
			}
		})
	}
}

func TestParseApprovalEventRefusesWhatCannotBeReRead(t *testing.T) {
	for name, in := range map[string]string{
		"no instance":      `{"EventType":"bpms_instance_change","processCode":"PROC-1","type":"start"}`,
		"no process code":  `{"EventType":"bpms_instance_change","processInstanceId":"i-1","type":"start"}`,
		"instance as list": `{"EventType":"bpms_instance_change","processInstanceId":["i-1"],"processCode":"PROC-1"}`,
		"instance too long": `{"EventType":"bpms_instance_change","processInstanceId":"` + strings.Repeat("x", 300) +
			`","processCode":"PROC-1"}`,
	} {
		if ev, err := ParseEvent([]byte(in)); err == nil {
			t.Errorf("%s: parsed to %+v", name, ev)
		}
	}
}

func TestApprovalEventsWithoutEventIDAreToldApartByInstanceAndChange(t *testing.T) {
	parse := func(body string) string {
		t.Helper()
		ev, err := ParseEvent([]byte(`{"EventType":"bpms_instance_change","corpId":"c","createTime":1495592259000,` + body + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	start := parse(`"processInstanceId":"i-1","processCode":"P","type":"start"`)
	ids := map[string]bool{start: true}
	for _, body := range []string{
		`"processInstanceId":"i-2","processCode":"P","type":"start"`,
		`"processInstanceId":"i-1","processCode":"P","type":"terminate"`,
		`"processInstanceId":"i-1","processCode":"P","type":"finish","result":"agree"`,
	} {
		ids[parse(body)] = true
	}
	if len(ids) != 4 || parse(`"processInstanceId":"i-1","processCode":"P","type":"start","title":"again"`) != start {
		t.Fatalf("ids %v: want 4 distinct, and a duplicate push of the start to get the start's id", ids)
	}
	// A contact event's hash is what it was before approval events were parsed, so a push
	// stored before and drained again after an upgrade is still a duplicate.
	ev, err := ParseEvent([]byte(`{"EventType":"user_add_org","TimeStamp":1700000000123,"UserId":["u1"],"CorpId":"c"}`))
	key, _ := json.Marshal(struct {
		Type, Corp string
		Time       int64
		Users      []string
		Depts      []int64
	}{"user_add_org", "c", 1700000000123, []string{"u1"}, nil})
	sum := sha256.Sum256(key)
	if err != nil || ev.ID != "sha256:"+hex.EncodeToString(sum[:16]) {
		t.Fatalf("contact event %+v, %v: its id changed", ev, err)
	}
}

func TestUnsupportedEventsStillParseWithoutIDs(t *testing.T) {
	// bpms_task_change and other tags are kept as today: type and id, nothing to re-read, even
	// when they carry keys the approval parser reads, with other types.
	ev, err := ParseEvent([]byte(`{"EventType":"bpms_task_change","processInstanceId":["x"],"type":{"a":1},"eventId":"e"}`))
	if err != nil || ev.Type != "bpms_task_change" || ev.Approval != nil || ev.UserIDs != nil || ev.DeptIDs != nil {
		t.Fatalf("got %+v, %v", ev, err)
	}
}
