package dingtalk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
)

func eventFrame(headers map[string]string, data string) []byte {
	h := map[string]string{"topic": "*", "messageId": "m-1", "contentType": "application/json", "time": "1741000000500"}
	for k, v := range headers {
		h[k] = v
	}
	raw, _ := json.Marshal(StreamFrame{SpecVersion: "1.0", Type: StreamTypeEvent, Time: 1741000000500, Headers: h, Data: data})
	return raw
}

func TestStreamEventsParseLikeHTTPPushes(t *testing.T) {
	userHeaders := map[string]string{"eventType": "user_add_org", "eventId": "ev-1", "eventCorpId": "dingcorp", "eventBornTime": "1741000000123"}
	cases := []struct {
		name    string
		frame   []byte
		http    string // the same event as the HTTP push's plaintext ("" when it fails)
		wantErr string
	}{
		{"user event", eventFrame(userHeaders, `{"timeStamp":"1741000000000","userId":["u1","0042"]}`),
			`{"EventType":"user_add_org","TimeStamp":1741000000000,"UserId":["u1","0042"],"CorpId":"dingcorp","eventId":"ev-1"}`, ""},
		{"department event takes the born time", eventFrame(map[string]string{"eventType": "org_dept_modify", "eventId": "ev-2",
			"eventCorpId": "dingcorp", "eventBornTime": "1741000000123"}, `{"deptId":[42]}`),
			`{"EventType":"org_dept_modify","EventTime":1741000000123,"DeptId":[42],"CorpId":"dingcorp","eventId":"ev-2"}`, ""},
		{"headers win over data keys in any case", eventFrame(userHeaders, `{"EVENTTYPE":"check_url","eventid":"forged","userId":["u1"],"timeStamp":"1741000000000"}`),
			`{"EventType":"user_add_org","TimeStamp":1741000000000,"UserId":["u1"],"CorpId":"dingcorp","eventId":"ev-1"}`, ""},
		{"active user without time", eventFrame(map[string]string{"eventType": "user_active_org", "eventId": "ev-3"}, `{"userId":["u9"]}`),
			`{"EventType":"user_active_org","UserId":["u9"],"eventId":"ev-3"}`, ""},
		{"data not JSON", eventFrame(userHeaders, `not json`), "", "not a JSON object"},
		{"no event type", eventFrame(map[string]string{"eventId": "ev-4"}, `{"userId":["u1"]}`), "", "no EventType"},
		{"bad ids", eventFrame(userHeaders, `{"userId":"u1"}`), "", "must be an array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseStreamFrame(c.frame)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.ContactEvent()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := callback.ParseEvent([]byte(c.http))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stream event %+v, want the HTTP push's %+v", got, want)
			}
		})
	}
}

func TestParseStreamFrameRefusesFramesItCannotAck(t *testing.T) {
	for _, raw := range []string{`not json`, `{"type":"EVENT","headers":{}}`, `{"headers":{"messageId":"m"}}`} {
		if _, err := ParseStreamFrame([]byte(raw)); err == nil {
			t.Errorf("%s parsed", raw)
		}
	}
	f, err := ParseStreamFrame([]byte(`{"specVersion":"1.0","type":"SYSTEM","headers":{"topic":"ping","messageId":"p1"},"data":"{\"opaque\":\"x\"}"}`))
	if err != nil || f.Topic() != StreamTopicPing || f.MessageID() != "p1" {
		t.Fatalf("ping frame %+v: %v", f, err)
	}
	if _, err := f.ContactEvent(); err == nil {
		t.Fatal("a SYSTEM frame parsed as an event")
	}
}

func TestStreamAcksHaveDingTalksShape(t *testing.T) {
	cases := []struct {
		ack  StreamAck
		want string
	}{
		{AckSuccess("m-1"), `{"code":200,"headers":{"contentType":"application/json","messageId":"m-1"},"message":"ok","data":"{\"status\":\"SUCCESS\",\"message\":\"success\"}"}`},
		{AckLater("m-2"), `{"code":500,"headers":{"contentType":"application/json","messageId":"m-2"},"message":"later","data":"{\"status\":\"LATER\",\"message\":\"later\"}"}`},
		{AckPong(StreamFrame{Type: StreamTypeSystem, Headers: map[string]string{"messageId": "p-1", "topic": "ping"}, Data: `{"opaque":"abc"}`}),
			`{"code":200,"headers":{"contentType":"application/json","messageId":"p-1"},"message":"ok","data":"{\"opaque\":\"abc\"}"}`},
	}
	for _, c := range cases {
		raw, err := json.Marshal(c.ack)
		if err != nil || string(raw) != c.want {
			t.Errorf("ack %s, want %s", raw, c.want)
		}
	}
}

func TestStreamBackoffGrowsAndAuthWaitsLongest(t *testing.T) {
	o := StreamOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}.withDefaults()
	for n, max := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		if d := streamBackoff(o, n, nil); d < max/2 || d > max {
			t.Errorf("backoff after %d failures: %s, want within [%s, %s]", n, d, max/2, max)
		}
	}
	if d := streamBackoff(o, 30, nil); d > o.MaxBackoff {
		t.Errorf("backoff %s above the cap", d)
	}
	if d := streamBackoff(o, 0, &Error{Kind: KindAuth}); d != o.MaxBackoff {
		t.Errorf("auth failure backoff %s, want %s", d, o.MaxBackoff)
	}
}
