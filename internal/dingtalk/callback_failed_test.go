package dingtalk

import (
	"encoding/json"
	"testing"

	"github.com/dingsync/dingsync/internal/callback"
)

func TestFailedPushEventReadsContactAndApprovalPayloads(t *testing.T) {
	const bpms = `{"processInstanceId":"i-1","processCode":"PROC-1","corpId":"dingcorp","type":"finish","result":"agree",` +
		`"createTime":1495592259000,"finishTime":1495592305000,"staffId":"u1","title":"t"}`
	quoted, _ := json.Marshal(bpms)
	for _, tc := range []struct {
		name string
		list string
		want callback.Event
	}{
		{"contact event under callbackData",
			`{"call_back_tag":"user_add_org","event_time":1,"corpid":"dingcorp",
			  "callbackData":"{\"EventType\":\"user_add_org\",\"UserId\":[\"u1\"],\"CorpId\":\"dingcorp\",\"eventId\":\"e1\"}"}`,
			callback.Event{ID: "e1", Type: "user_add_org", CorpID: "dingcorp", UserIDs: []string{"u1"}}},
		{"approval event as an object under bpmsCallBackData, typed by the tag",
			`{"call_back_tag":"bpms_instance_change","event_time":1495592305000,"corpid":"dingcorp","bpmsCallBackData":` + bpms + `}`,
			callback.Event{Type: "bpms_instance_change", CorpID: "dingcorp"}},
		{"approval event as a string under bpmsCallBackData",
			`{"call_back_tag":"bpms_instance_change","corpid":"dingcorp","bpmsCallBackData":` + string(quoted) + `}`,
			callback.Event{Type: "bpms_instance_change", CorpID: "dingcorp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page failedPushes
			if err := json.Unmarshal([]byte(`{"failed_list":[`+tc.list+`]}`), &page); err != nil {
				t.Fatal(err)
			}
			ev, err := page.List[0].Event()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tc.want.Type || ev.CorpID != tc.want.CorpID || (tc.want.ID != "" && ev.ID != tc.want.ID) {
				t.Fatalf("got %+v, want %+v", ev, tc.want)
			}
			if tc.want.Type == callback.EventApprovalChange {
				a := ev.Approval
				if a == nil || a.InstanceID != "i-1" || a.ProcessCode != "PROC-1" || a.Change != "finish" || a.Result != "agree" ||
					ev.Time.UnixMilli() != 1495592305000 {
					t.Fatalf("approval %+v at %v", a, ev.Time)
				}
			}
		})
	}
	if _, err := (FailedPush{Tag: "bpms_instance_change", BpmsData: json.RawMessage(`{"processCode":"P"}`)}).Event(); err == nil {
		t.Fatal("an approval push without its instance parsed")
	}
}
