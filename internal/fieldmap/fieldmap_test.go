package fieldmap

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestMappingProducesTypedCustomFields(t *testing.T) {
	m, err := Parse([]byte(`{"fields": [
		{"name": "employee_no", "from": "extension.工号", "type": "string", "transforms": ["trim"]},
		{"name": "phone", "from": "mobile", "type": "string", "transforms": ["e164"]},
		{"name": "hired_on", "from": "hired_date", "type": "date", "transforms": ["date_ms"]},
		{"name": "grade", "from": "extension.职级", "type": "string", "enum": {"P5": "junior", "P6": "senior"}},
		{"name": "level", "from": "extension.level", "type": "number"},
		{"name": "is_admin", "from": "admin", "type": "bool"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var attrs map[string]any
	_ = json.Unmarshal([]byte(`{"mobile": "138-0013 8000", "hired_date": 1700000000000, "admin": true,
		"extension": {"工号": "  A001 ", "职级": "P7", "level": "3"}}`), &attrs)
	got := m.Apply(attrs)
	want := map[string]any{"employee_no": "A001", "phone": "+8613800138000", "hired_on": "2023-11-15",
		"grade": nil, "level": 3.0, "is_admin": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("custom fields %v, want %v", got, want)
	}
}

func TestMappingRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct{ mapping, why string }{
		{`{"fields": [{"name": "x", "from": "salary", "type": "number"}]}`, "not a DingTalk employee field"},
		{`{"fields": [{"name": "x", "from": "hired_date", "type": "date"}]}`, "add a transform"},
		{`{"fields": [{"name": "x", "from": "mobile", "type": "string", "transforms": ["date_ms"]}]}`, "needs epoch milliseconds"},
		{`{"fields": [{"name": "x", "from": "admin", "type": "string", "transforms": ["trim"]}]}`, "needs text"},
		{`{"fields": [{"name": "X y", "from": "mobile", "type": "string"}]}`, "lower-case"},
		{`{"fields": [{"name": "x", "from": "mobile", "type": "string"}, {"name": "x", "from": "email", "type": "string"}]}`, "used twice"},
		{`{"fields": [{"name": "x", "from": "mobile", "type": "text"}]}`, "want string, number, bool or date"},
		{`{"fields": [{"name": "x", "from": "mobile", "type": "string", "transform": "trim"}]}`, "unknown field"},
	} {
		if _, err := Parse([]byte(tc.mapping)); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("mapping %s: error %v, want one saying %q", tc.mapping, err, tc.why)
		}
	}
}

func TestE164(t *testing.T) {
	for in, want := range map[string]any{"13800138000": "+8613800138000", "+86 138 0013 8000": "+8613800138000",
		"0086-13800138000": "+8613800138000", "+1 415 555 0100": "+14155550100", "分机 12": nil} {
		if got := e164(in); got != want {
			t.Errorf("e164(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRosterFieldsAreASource(t *testing.T) {
	m, err := Parse([]byte(`{"fields": [
		{"name": "cert_no", "from": "roster.sys02-certNo", "type": "string", "transforms": ["upper"]},
		{"name": "main_dept", "from": "roster.sys00-mainDeptId", "type": "number"},
		{"name": "main_dept_text", "from": "roster.sys00-mainDeptId", "type": "string"},
		{"name": "kind", "from": "roster.sys01-employeeType", "type": "string", "enum": {"1": "full_time", "3": "intern"}},
		{"name": "joined", "from": "roster.sys00-confirmJoinTime", "type": "date"},
		{"name": "missing", "from": "roster.custom-badge", "type": "string"},
		{"name": "phone", "from": "mobile", "type": "string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.RosterCodes(); !reflect.DeepEqual(got, []string{"custom-badge", "sys00-confirmJoinTime", "sys00-mainDeptId", "sys01-employeeType", "sys02-certNo"}) {
		t.Fatalf("RosterCodes() = %v: want each code once, sorted", got)
	}
	var attrs map[string]any
	_ = json.Unmarshal([]byte(`{"mobile": "13800138000", "roster": {"sys02-certNo": "11010119900101123x",
		"sys00-mainDeptId": "42", "sys01-employeeType": "1", "sys00-confirmJoinTime": "2021-03-04"}}`), &attrs)
	want := map[string]any{"cert_no": "11010119900101123X", "main_dept": 42.0, "main_dept_text": "42", "kind": "full_time",
		"joined": "2021-03-04", "missing": nil, "phone": "13800138000"}
	if got := m.Apply(attrs); !reflect.DeepEqual(got, want) {
		t.Fatalf("custom fields %v, want %v", got, want)
	}
	delete(attrs, "roster") // stored before the mapping read the roster: nulls, no failure
	if got := m.Apply(attrs); got["cert_no"] != nil || got["phone"] != "13800138000" {
		t.Fatalf("without roster values: %v", got)
	}
	if codes := (Mapping{Fields: []Field{{Name: "x", From: "mobile", Type: TypeString}}}).RosterCodes(); codes != nil {
		t.Fatalf("a mapping without roster fields reads roster codes %v", codes)
	}
}

func TestRosterSourcesMustNameACode(t *testing.T) {
	for _, from := range []string{"roster.", "roster.has space", "roster./x"} {
		_, err := Parse([]byte(`{"fields": [{"name": "x", "from": "` + from + `", "type": "string"}]}`))
		if err == nil || !strings.Contains(err.Error(), "roster.sys02-certNo") {
			t.Errorf("from %q: %v, want an error showing a roster code", from, err)
		}
	}
	var fields []string
	for i := 0; i <= MaxRosterCodes; i++ {
		fields = append(fields, `{"name": "f`+strconv.Itoa(i)+`", "from": "roster.c`+strconv.Itoa(i)+`", "type": "string"}`)
	}
	if _, err := Parse([]byte(`{"fields": [` + strings.Join(fields, ",") + `]}`)); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("101 roster fields: %v", err)
	}
}
