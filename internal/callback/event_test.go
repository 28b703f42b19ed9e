package callback

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	ms := time.UnixMilli(1700000000123)
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{"HTTP push, PascalCase",
			`{"EventType":"user_add_org","TimeStamp":1700000000123,"UserId":["0123","u2"],"CorpId":"dingcorp","eventId":"ev1"}`,
			Event{ID: "ev1", Type: "user_add_org", CorpID: "dingcorp", Time: ms, UserIDs: []string{"0123", "u2"}}},
		{"HTTP push, current docs",
			`{"EventType":"org_dept_create","EventTime":1700000000123,"DeptId":[42],"CorpId":"dingcorp","BizId":"biz9"}`,
			Event{ID: "biz9", Type: "org_dept_create", CorpID: "dingcorp", Time: ms, DeptIDs: []int64{42}}},
		{"eventId wins over BizId",
			`{"EventType":"org_dept_remove","DeptId":[7],"BizId":"biz","eventId":"ev"}`,
			Event{ID: "ev", Type: "org_dept_remove", DeptIDs: []int64{7}}},
		{"Stream data, camelCase, string time",
			`{"eventType":"user_leave_org","timeStamp":"1700000000123","userId":["u1"],"corpId":"dingcorp","eventId":"ev2"}`,
			Event{ID: "ev2", Type: "user_leave_org", CorpID: "dingcorp", Time: ms, UserIDs: []string{"u1"}}},
		{"EventTime wins over TimeStamp",
			`{"EventType":"user_modify_org","EventTime":"1700000000123","TimeStamp":5,"UserId":["u1"],"eventId":"e"}`,
			Event{ID: "e", Type: "user_modify_org", Time: ms, UserIDs: []string{"u1"}}},
		{"dept ids as strings",
			`{"EventType":"org_dept_modify","deptId":["42","007"],"eventId":"e"}`,
			Event{ID: "e", Type: "org_dept_modify", DeptIDs: []int64{42, 7}}},
		{"userids as numbers",
			`{"EventType":"user_active_org","UserId":[12345],"eventId":"e"}`,
			Event{ID: "e", Type: "user_active_org", UserIDs: []string{"12345"}}},
		{"null and empty fields are absent",
			`{"EventType":"user_add_org","TimeStamp":null,"EventTime":"","UserId":null,"DeptId":[],"eventId":"e"}`,
			Event{ID: "e", Type: "user_add_org", DeptIDs: []int64{}}},
		{"unknown fields are ignored",
			`{"EventType":"user_modify_org","UserId":["u"],"diffInfo":{"prev":{"name":"a"}},"eventId":"e","Random":1}`,
			Event{ID: "e", Type: "user_modify_org", UserIDs: []string{"u"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseEventCheckURL(t *testing.T) {
	ev, err := ParseEvent([]byte(`{"EventType":"check_url"}`))
	if err != nil || ev.Type != EventCheckURL || ev.ID == "" || ev.UserIDs != nil || ev.DeptIDs != nil || !ev.Time.IsZero() {
		t.Fatalf("check_url = %+v, %v", ev, err)
	}
}

func TestParseEventHashID(t *testing.T) {
	parse := func(s string) string {
		t.Helper()
		ev, err := ParseEvent([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	a := parse(`{"EventType":"user_add_org","TimeStamp":"1700000000123","UserId":["u1"],"CorpId":"c"}`)
	if b := parse(`{"userId":["u1"],"corpId":"c","timeStamp":1700000000123,"eventType":"user_add_org"}`); a != b {
		t.Fatalf("the same event hashes to %s and %s", a, b)
	}
	for _, other := range []string{
		`{"EventType":"user_leave_org","TimeStamp":"1700000000123","UserId":["u1"],"CorpId":"c"}`,
		`{"EventType":"user_add_org","TimeStamp":"1700000000124","UserId":["u1"],"CorpId":"c"}`,
		`{"EventType":"user_add_org","TimeStamp":"1700000000123","UserId":["u2"],"CorpId":"c"}`,
		`{"EventType":"user_add_org","TimeStamp":"1700000000123","UserId":["u1"],"CorpId":"d"}`,
		`{"EventType":"user_add_org","TimeStamp":"1700000000123","DeptId":[1],"UserId":["u1"],"CorpId":"c"}`,
	} {
		if parse(other) == a {
			t.Fatalf("%s hashes like another event", other)
		}
	}
}

func TestParseEventErrors(t *testing.T) {
	many := func(field string, n int, item string) string {
		return fmt.Sprintf(`{"EventType":"user_add_org","%s":[%s]}`, field, strings.TrimSuffix(strings.Repeat(item+",", n), ","))
	}
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `EventType=user_add_org`, "not a JSON object"},
		{"truncated JSON", `{"EventType":"user_add_org"`, "not a JSON object"},
		{"array", `[{"EventType":"user_add_org"}]`, "not a JSON object"},
		{"empty", ``, "not a JSON object"},
		{"no EventType", `{"UserId":["u"]}`, "no EventType"},
		{"empty EventType", `{"EventType":""}`, "no EventType"},
		{"null", `null`, "no EventType"},
		{"EventType a number", `{"EventType":5}`, "EventType"},
		{"UserId a string", `{"EventType":"user_add_org","UserId":"u1"}`, "UserId must be an array"},
		{"UserId an object", `{"EventType":"user_add_org","UserId":{"a":1}}`, "UserId must be an array"},
		{"userid a bool", `{"EventType":"user_add_org","UserId":[true]}`, "UserId[0]"},
		{"userid null", `{"EventType":"user_add_org","UserId":["a",null]}`, "UserId[1]"},
		{"userid empty", `{"EventType":"user_add_org","UserId":[""]}`, "UserId[0]"},
		{"userid a float", `{"EventType":"user_add_org","UserId":[1.5]}`, "UserId[0]"},
		{"dept id a word", `{"EventType":"org_dept_create","DeptId":["sales"]}`, "DeptId[0]"},
		{"dept id negative", `{"EventType":"org_dept_create","DeptId":[-1]}`, "DeptId[0]"},
		{"dept id zero", `{"EventType":"org_dept_create","DeptId":[0]}`, "DeptId[0]"},
		{"dept id a float", `{"EventType":"org_dept_create","DeptId":[1e3]}`, "DeptId[0]"},
		{"dept id overflows", `{"EventType":"org_dept_create","DeptId":[99999999999999999999]}`, "DeptId[0]"},
		{"dept id nested", `{"EventType":"org_dept_create","DeptId":[[1]]}`, "DeptId[0]"},
		{"time a word", `{"EventType":"user_add_org","TimeStamp":"yesterday"}`, "TimeStamp"},
		{"time a float", `{"EventType":"user_add_org","EventTime":1.7e12}`, "EventTime"},
		{"time an object", `{"EventType":"user_add_org","EventTime":{}}`, "EventTime"},
		{"1001 userids", many("UserId", 1001, `"u"`), "cap of 1000"},
		{"1001 dept ids", many("DeptId", 1001, `1`), "cap of 1000"},
		{"1001 ids together", `{"EventType":"x","UserId":[` + strings.Repeat(`"u",`, 500) + `"u"],"DeptId":[` + strings.Repeat(`1,`, 499) + `1]}`, "cap of 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseEvent = %+v, %v; want an error containing %q", ev, err, tt.want)
			}
		})
	}
	if _, err := ParseEvent([]byte(many("UserId", 1000, `"u"`))); err != nil {
		t.Fatalf("1000 ids: %v", err)
	}
}
