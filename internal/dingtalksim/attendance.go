package dingtalksim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"time"
)

// Attendance (考勤): every current user of a corp has an OnDuty and an OffDuty clock-in on each
// work day (Monday to Friday, Beijing time) before today, generated from the corp, the user and
// the day alone, so any range reads the same records every time. Records added through AddAttendance
// (or POST /_sim/attendance) join them; one added with a generated record's id replaces it.

// ChinaTime is Beijing time, in which DingTalk keeps work dates.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// Check types and the time results the generator draws (DingTalk also reports SeriousLate,
// Absenteeism; added records may use any).
const (
	CheckOnDuty  = "OnDuty"
	CheckOffDuty = "OffDuty"
)

// AttendanceRecord is one clock-in as POST /attendance/list returns it.
type AttendanceRecord struct {
	ID       int64  `json:"id"`
	GroupID  int64  `json:"groupId"`
	PlanID   int64  `json:"planId"`
	RecordID int64  `json:"recordId"`
	WorkDate int64  `json:"workDate"` // 00:00 Beijing time of the work day, in ms
	UserID   string `json:"userId"`
	// CheckType is OnDuty or OffDuty.
	CheckType string `json:"checkType"`
	// TimeResult is Normal, Early, Late, SeriousLate, Absenteeism or NotSigned.
	TimeResult     string `json:"timeResult"`
	LocationResult string `json:"locationResult"`
	BaseCheckTime  int64  `json:"baseCheckTime"` // the planned time, ms
	UserCheckTime  int64  `json:"userCheckTime"` // when the user clocked in (the planned time when NotSigned), ms
	SourceType     string `json:"sourceType"`
	CorpID         string `json:"corpId"`
}

// attendanceData is the records added to each corp.
type attendanceData struct {
	mu     sync.Mutex
	corps  map[string]*addedAttendance
	nextID int64
}

// addedAttendance is one corp's added records.
type addedAttendance struct {
	byID  map[int64]AttendanceRecord
	byDay map[string][]int64 // userid|workDate → ids, in the order added
}

func newAttendanceData() *attendanceData {
	return &attendanceData{corps: map[string]*addedAttendance{}, nextID: 1_000_000_000}
}

// dayKey indexes a user's records of one work day.
func dayKey(userID string, workDate int64) string { return fmt.Sprintf("%s|%d", userID, workDate) }

// startOfDay is 00:00 Beijing time of t's date there.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(ChinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, ChinaTime)
}

// IsWorkDay says whether day is a work day (Monday to Friday) in the generated data.
func IsWorkDay(day time.Time) bool {
	wd := day.In(ChinaTime).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// hash64 is FNV-1a of the parts, separated.
func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// generatedRecord is userID's clock-in of checkType on day: 85% Normal, 10% Late (OnDuty) or
// Early (OffDuty), 5% NotSigned.
func generatedRecord(corpID, userID string, day time.Time, checkType string) AttendanceRecord {
	h := hash64("attendance", corpID, userID, day.Format(time.DateOnly), checkType)
	base := day.Add(9 * time.Hour)
	if checkType == CheckOffDuty {
		base = day.Add(18 * time.Hour)
	}
	r := AttendanceRecord{ID: int64(h & (1<<62 - 1)), GroupID: 1000 + int64(hash64(corpID)%100), PlanID: int64(h>>20) & (1<<40 - 1),
		RecordID: int64(hash64("punch", corpID, userID, day.Format(time.DateOnly), checkType) & (1<<62 - 1)),
		WorkDate: day.UnixMilli(), UserID: userID, CheckType: checkType, TimeResult: "Normal", LocationResult: "Normal",
		BaseCheckTime: base.UnixMilli(), SourceType: "ATM", CorpID: corpID}
	minutes := time.Duration(1+(h>>32)%40) * time.Minute
	switch pick := h % 100; {
	case pick >= 95:
		r.TimeResult, r.LocationResult, r.SourceType, r.RecordID = "NotSigned", "NotSigned", "SYSTEM", 0
		r.UserCheckTime = r.BaseCheckTime
	case pick >= 85 && checkType == CheckOnDuty:
		r.TimeResult, r.UserCheckTime = "Late", base.Add(minutes).UnixMilli()
	case pick >= 85:
		r.TimeResult, r.UserCheckTime = "Early", base.Add(-minutes).UnixMilli()
	case checkType == CheckOnDuty:
		r.UserCheckTime = base.Add(-minutes).UnixMilli()
	default:
		r.UserCheckTime = base.Add(minutes).UnixMilli()
	}
	return r
}

// attendanceOf returns the records of users (in their order, each once) whose work date lies in
// [from, to], each user's by work date, OnDuty first.
func (s *Server) attendanceOf(corpID string, users []string, from, to, now time.Time) []AttendanceRecord {
	s.mu.RLock()
	current := make(map[string]bool, len(users))
	if c := s.corps[corpID]; c != nil {
		for _, u := range users {
			current[u] = c.users[u] != nil
		}
	}
	s.mu.RUnlock()
	first, today := startOfDay(from), startOfDay(now)
	if first.Before(from) {
		first = first.AddDate(0, 0, 1)
	}
	s.attendance.mu.Lock()
	defer s.attendance.mu.Unlock()
	added := s.attendance.corps[corpID]
	out := []AttendanceRecord{}
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		for d := first; !d.After(to); d = d.AddDate(0, 0, 1) {
			out = append(out, dayRecords(corpID, u, d, current[u] && d.Before(today) && IsWorkDay(d), added)...)
		}
	}
	return out
}

// dayRecords is one user's records of one day: the generated ones (replaced by added records of
// the same id) when generate is set, then the other added ones.
func dayRecords(corpID, userID string, day time.Time, generate bool, added *addedAttendance) []AttendanceRecord {
	var recs []AttendanceRecord
	generated := map[int64]bool{}
	if generate {
		for _, ct := range []string{CheckOnDuty, CheckOffDuty} {
			r := generatedRecord(corpID, userID, day, ct)
			generated[r.ID] = true
			if added != nil {
				if repl, ok := added.byID[r.ID]; ok {
					r = repl
				}
			}
			recs = append(recs, r)
		}
	}
	if added == nil {
		return recs
	}
	var extra []AttendanceRecord
	for _, id := range added.byDay[dayKey(userID, day.UnixMilli())] {
		if !generated[id] {
			extra = append(extra, added.byID[id])
		}
	}
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].UserCheckTime < extra[j].UserCheckTime })
	return append(recs, extra...)
}

// AddAttendance adds clock-in records to corpID and returns them as stored. Each needs a userId,
// a workDate (any time of the day: it is moved to 00:00 Beijing time) and a checkType; an id of 0
// gets a new id, an existing id (generated or added) is replaced. Missing results default to
// Normal, times to the planned 09:00 / 18:00.
func (s *Server) AddAttendance(corpID string, recs []AttendanceRecord) ([]AttendanceRecord, error) {
	s.mu.RLock()
	known := s.corps[corpID] != nil
	s.mu.RUnlock()
	if !known {
		return nil, fmt.Errorf("%w: corp %q has no org", ErrNotFound, corpID)
	}
	a := s.attendance
	a.mu.Lock()
	defer a.mu.Unlock()
	added := a.corps[corpID]
	if added == nil {
		added = &addedAttendance{byID: map[int64]AttendanceRecord{}, byDay: map[string][]int64{}}
		a.corps[corpID] = added
	}
	out := make([]AttendanceRecord, 0, len(recs))
	for _, r := range recs {
		if err := a.normalize(corpID, &r); err != nil {
			return out, err
		}
		if old, ok := added.byID[r.ID]; ok {
			key := dayKey(old.UserID, old.WorkDate)
			added.byDay[key] = slices.DeleteFunc(added.byDay[key], func(id int64) bool { return id == r.ID })
		}
		added.byID[r.ID] = r
		key := dayKey(r.UserID, r.WorkDate)
		added.byDay[key] = append(added.byDay[key], r.ID)
		out = append(out, r)
	}
	return out, nil
}

// normalize checks an added record and fills its defaults; a.mu is held.
func (a *attendanceData) normalize(corpID string, r *AttendanceRecord) error {
	switch {
	case r.UserID == "":
		return fmt.Errorf("%w: attendance record without userId", ErrInvalid)
	case r.WorkDate <= 0:
		return fmt.Errorf("%w: attendance record of %s without workDate", ErrInvalid, r.UserID)
	case r.CheckType != CheckOnDuty && r.CheckType != CheckOffDuty:
		return fmt.Errorf("%w: checkType must be %s or %s, got %q", ErrInvalid, CheckOnDuty, CheckOffDuty, r.CheckType)
	}
	day := startOfDay(time.UnixMilli(r.WorkDate))
	r.WorkDate, r.CorpID = day.UnixMilli(), corpID
	if r.ID == 0 {
		a.nextID++
		r.ID = a.nextID
	}
	if r.BaseCheckTime == 0 {
		r.BaseCheckTime = day.Add(9 * time.Hour).UnixMilli()
		if r.CheckType == CheckOffDuty {
			r.BaseCheckTime = day.Add(18 * time.Hour).UnixMilli()
		}
	}
	if r.UserCheckTime == 0 {
		r.UserCheckTime = r.BaseCheckTime
	}
	if r.TimeResult == "" {
		r.TimeResult = "Normal"
	}
	if r.LocationResult == "" {
		r.LocationResult = "Normal"
	}
	if r.SourceType == "" {
		r.SourceType = "USER"
	}
	if r.RecordID == 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(r.ID))
		r.RecordID = int64(hash64("punch", string(b[:])) & (1<<62 - 1))
	}
	return nil
}

// Attendance is the ground truth of corpID's clock-ins on work dates from..to (inclusive, Beijing
// time) of the given users (nil: every current user, by userid), as attendance/list would return
// them now.
func (s *Server) Attendance(corpID string, users []string, from, to time.Time) []AttendanceRecord {
	if users == nil {
		s.mu.RLock()
		if c := s.corps[corpID]; c != nil {
			for id := range c.users {
				users = append(users, id)
			}
		}
		s.mu.RUnlock()
		slices.Sort(users)
	}
	return s.attendanceOf(corpID, users, startOfDay(from), startOfDay(to), s.clock())
}

// attendanceListRequest is the body of POST /attendance/list.
type attendanceListRequest struct {
	WorkDateFrom string   `json:"workDateFrom"`
	WorkDateTo   string   `json:"workDateTo"`
	UserIDList   []string `json:"userIdList"`
	Offset       int64    `json:"offset"`
	Limit        int64    `json:"limit"`
}

const (
	attendanceDateLayout = "2006-01-02 15:04:05"
	attendanceMaxSpan    = 7 * 24 * time.Hour
	attendanceMaxUsers   = 50
	attendanceMaxLimit   = 50
)

func (r *attendanceListRequest) check() error {
	from, err := time.Parse(attendanceDateLayout, r.WorkDateFrom)
	if err != nil {
		return errors.New("workDateFrom must be yyyy-MM-dd HH:mm:ss")
	}
	to, err := time.Parse(attendanceDateLayout, r.WorkDateTo)
	switch {
	case err != nil:
		return errors.New("workDateTo must be yyyy-MM-dd HH:mm:ss")
	case to.Before(from) || to.Sub(from) > attendanceMaxSpan:
		return errors.New("workDateTo must be within 7 days after workDateFrom")
	case len(r.UserIDList) == 0:
		return errors.New("userIdList is required")
	case len(r.UserIDList) > attendanceMaxUsers:
		return errors.New("userIdList must have at most 50 userids")
	case r.Offset < 0:
		return errors.New("offset must not be negative")
	case r.Limit < 0 || r.Limit > attendanceMaxLimit:
		return errors.New("limit must be at most 50")
	}
	return nil
}

// attendanceListBody is the attendance/list response.
type attendanceListBody struct {
	oapiStatus
	RecordResult []AttendanceRecord `json:"recordresult"`
	HasMore      bool               `json:"hasMore"`
}

// attendanceList serves POST /attendance/list: the users' records of the work dates in
// [workDateFrom, workDateTo] (Beijing time), limit (default 50) from offset, hasMore when
// more follow.
func (s *Server) attendanceList(c *call) reply {
	req, rep, ok := parse(c, (*attendanceListRequest).check)
	if !ok {
		return rep
	}
	from, _ := time.ParseInLocation(attendanceDateLayout, req.WorkDateFrom, ChinaTime)
	to, _ := time.ParseInLocation(attendanceDateLayout, req.WorkDateTo, ChinaTime)
	all := s.attendanceOf(c.app.CorpID, req.UserIDList, from, to, c.now)
	limit := req.Limit
	if limit == 0 {
		limit = attendanceMaxLimit
	}
	lo := min(req.Offset, int64(len(all)))
	hi := min(lo+limit, int64(len(all)))
	return c.okFlat(attendanceListBody{oapiStatus: c.oapiOK(), RecordResult: all[lo:hi], HasMore: hi < int64(len(all))})
}
