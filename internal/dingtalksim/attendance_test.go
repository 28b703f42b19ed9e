package dingtalksim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// attendancePage is attendance/list's answer as a client sees it.
type attendancePage struct {
	ErrCode      int                `json:"errcode"`
	ErrMsg       string             `json:"errmsg"`
	RecordResult []AttendanceRecord `json:"recordresult"`
	HasMore      bool               `json:"hasMore"`
}

// listAttendance pages through attendance/list with the given page size.
func (e *env) listAttendance(token, from, to string, users []string, limit int) []AttendanceRecord {
	e.t.Helper()
	var all []AttendanceRecord
	for offset := 0; ; offset += limit {
		raw, _ := json.Marshal(map[string]any{"workDateFrom": from, "workDateTo": to, "userIdList": users, "offset": offset, "limit": limit})
		status, out := e.rawCall(APIAttendanceList, token, string(raw))
		var page attendancePage
		if status != http.StatusOK || json.Unmarshal(out, &page) != nil || page.ErrCode != 0 {
			e.t.Fatalf("attendance/list at offset %d: HTTP %d %s", offset, status, out)
		}
		if len(page.RecordResult) > limit {
			e.t.Fatalf("%d records on a page of %d", len(page.RecordResult), limit)
		}
		all = append(all, page.RecordResult...)
		if !page.HasMore {
			return all
		}
	}
}

func (e *env) someUsers(n int) []string {
	var ids []string
	for _, u := range e.sim.Truth(testCorp).Users[:n] {
		ids = append(ids, u.UserID)
	}
	return ids
}

func TestAttendanceHasTwoClockInsPerUserAndWorkDayBeforeToday(t *testing.T) {
	e := newEnv(t, noQPS) // today is Monday 2025-03-03 in Beijing
	tok := e.token(testKey, testSecret)
	users := e.someUsers(3)
	got := e.listAttendance(tok, "2025-02-24 00:00:00", "2025-03-03 00:00:00", users, 7)
	if len(got) != 3*5*2 {
		t.Fatalf("%d records for 3 users over Mon 24 Feb .. Mon 3 Mar, want 30 (5 work days before today, 2 each)", len(got))
	}
	ids := map[int64]bool{}
	for i, r := range got {
		day := time.UnixMilli(r.WorkDate).In(ChinaTime)
		check := time.UnixMilli(r.UserCheckTime)
		wantType := []string{CheckOnDuty, CheckOffDuty}[i%2]
		if ids[r.ID] || r.ID <= 0 || r.UserID != users[i/10] || r.CheckType != wantType || !IsWorkDay(day) ||
			day.Hour() != 0 || check.Before(day) || check.After(day.Add(24*time.Hour)) || r.CorpID != testCorp {
			t.Fatalf("record %d: %+v (work date %s)", i, r, day)
		}
		switch r.TimeResult {
		case "Normal", "Late", "Early", "NotSigned":
		default:
			t.Fatalf("record %d: time result %q", i, r.TimeResult)
		}
		ids[r.ID] = true
	}
	if again := e.listAttendance(tok, "2025-02-24 00:00:00", "2025-03-03 00:00:00", users, 50); !jsonEqual(t, again, got) {
		t.Fatal("the same query read different records")
	}
	if future := e.listAttendance(tok, "2025-03-03 00:00:00", "2025-03-10 00:00:00", users, 50); len(future) != 0 {
		t.Fatalf("%d records from today on", len(future))
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestAttendanceResultsVaryAcrossTheOrg(t *testing.T) {
	e := newEnv(t, noQPS)
	recs := e.sim.Attendance(testCorp, nil, time.Date(2025, 2, 3, 0, 0, 0, 0, ChinaTime), time.Date(2025, 2, 28, 0, 0, 0, 0, ChinaTime))
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.TimeResult]++
	}
	if len(recs) != 300*20*2 || counts["Normal"] < len(recs)*3/4 || counts["Late"] == 0 || counts["Early"] == 0 || counts["NotSigned"] == 0 {
		t.Fatalf("%d records in February's 20 work days for 300 users, results %v", len(recs), counts)
	}
}

func TestAttendanceRefusesWhatDingTalkRefuses(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	tests := []struct {
		name      string
		body      map[string]any
		wantField string
	}{
		{"no users", attendanceBody("2025-02-24 00:00:00", "2025-02-25 00:00:00", 0, 50), "userIdList"},
		{"51 users", attendanceBody("2025-02-24 00:00:00", "2025-02-25 00:00:00", 51, 50), "userIdList"},
		{"over 7 days", attendanceBody("2025-02-20 00:00:00", "2025-02-27 00:00:01", 1, 50), "workDateTo"},
		{"limit 51", attendanceBody("2025-02-24 00:00:00", "2025-02-25 00:00:00", 1, 51), "limit"},
		{"negative offset", map[string]any{"workDateFrom": "2025-02-24 00:00:00", "workDateTo": "2025-02-25 00:00:00", "userIdList": []string{"u"}, "offset": -1, "limit": 5}, "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.call(APIAttendanceList, tok, tt.body, nil); r.ErrCode != CodeBadRequestBody || !strings.Contains(r.ErrMsg, tt.wantField) {
				t.Fatalf("errcode %d %q, want 400002 naming %s", r.ErrCode, r.ErrMsg, tt.wantField)
			}
		})
	}
	// An offset past the end is an empty last page.
	users := e.someUsers(1)
	raw, _ := json.Marshal(map[string]any{"workDateFrom": "2025-02-24 00:00:00", "workDateTo": "2025-02-25 00:00:00", "userIdList": users, "offset": 100, "limit": 50})
	if _, out := e.rawCall(APIAttendanceList, tok, string(raw)); !contains(out, `"recordresult":[],"hasMore":false`) {
		t.Fatalf("offset past the end: %s", out)
	}
}

func TestAddedAttendanceJoinsOrReplacesTheGeneratedRecords(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	users := e.someUsers(1)
	day := time.Date(2025, 2, 26, 0, 0, 0, 0, ChinaTime)
	before := e.listAttendance(tok, "2025-02-26 00:00:00", "2025-02-26 00:00:00", users, 50)
	if len(before) != 2 {
		t.Fatalf("%d records of a work day, want 2", len(before))
	}
	corrected := before[0]
	corrected.TimeResult, corrected.SourceType = "Normal", "APPROVE"
	if corrected.TimeResult == before[0].TimeResult {
		corrected.TimeResult = "Late"
	}
	added, err := e.sim.AddAttendance(testCorp, []AttendanceRecord{corrected,
		{UserID: users[0], WorkDate: day.Add(15 * time.Hour).UnixMilli(), CheckType: CheckOffDuty, UserCheckTime: day.Add(21 * time.Hour).UnixMilli()}})
	if err != nil || len(added) != 2 || added[1].ID == 0 || added[1].WorkDate != day.UnixMilli() || added[1].TimeResult != "Normal" {
		t.Fatalf("added %+v, %v", added, err)
	}
	after := e.listAttendance(tok, "2025-02-26 00:00:00", "2025-02-26 00:00:00", users, 50)
	if len(after) != 3 || after[0] != corrected || after[1] != before[1] || after[2].ID != added[1].ID {
		t.Fatalf("after adding: %+v", after)
	}
	// The admin API reads and adds the same records.
	status, raw := e.do(http.MethodGet, "/_sim/attendance?corpId="+testCorp+"&from=2025-02-26&to=2025-02-26&userId="+users[0], nil, nil)
	var truth struct{ Records []AttendanceRecord }
	if status != http.StatusOK || json.Unmarshal(raw, &truth) != nil || !jsonEqual(t, truth.Records, after) {
		t.Fatalf("GET /_sim/attendance: %d %s", status, raw)
	}
	body := `{"records":[{"userId":"` + users[0] + `","workDate":` + jsonNumber(day.AddDate(0, 0, 1).UnixMilli()) + `,"checkType":"OnDuty","timeResult":"Late"}]}`
	if status, raw := e.do(http.MethodPost, "/_sim/attendance?corpId="+testCorp, nil, []byte(body)); status != http.StatusCreated {
		t.Fatalf("POST /_sim/attendance: %d %s", status, raw)
	}
	if n := len(e.listAttendance(tok, "2025-02-27 00:00:00", "2025-02-27 00:00:00", users, 50)); n != 3 {
		t.Fatalf("%d records on 27 Feb after adding one by the admin API, want 3", n)
	}
	for _, bad := range []AttendanceRecord{{WorkDate: 1, CheckType: CheckOnDuty}, {UserID: "u", CheckType: CheckOnDuty}, {UserID: "u", WorkDate: 1, CheckType: "Lunch"}} {
		if _, err := e.sim.AddAttendance(testCorp, []AttendanceRecord{bad}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("adding %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := e.sim.AddAttendance("nocorp", []AttendanceRecord{added[1]}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("adding to an unknown corp: %v", err)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }
