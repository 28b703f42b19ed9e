package dingtalksim

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// hrDataAdmin registers the admin routes of attendance and approvals (corpId is a query
// parameter):
//
//	GET   /_sim/attendance?corpId=&from=&to=[&userId=]  200 {"records":[AttendanceRecord...]}: the
//	                                  clock-ins on work dates from..to (yyyy-MM-dd, Beijing time)
//	POST  /_sim/attendance?corpId=    body {"records":[AttendanceRecord...]}: adds them (id 0: a new
//	                                  record; an existing id: replaces it); 201 {"records":[...]}
//	GET   /_sim/approvals?corpId=     200 {"processes":[ApprovalProcess...],"instances":[ApprovalInstance...]}
//	POST  /_sim/approvals?corpId=     body ApprovalInstance: starts it; 201 ApprovalInstance
//	PATCH /_sim/approvals/{instanceId}?corpId= body {"status","result"}: decides it; 200 ApprovalInstance
//	GET   /_sim/roster/{userId}?corpId= 200 {"fields":{code: value}}: the user's roster fields
//	PUT   /_sim/roster/{userId}?corpId= body {"fields":{code: value}}: sets them ("" clears one);
//	                                  200 {"fields":{...}} as they now are
func (s *Server) hrDataAdmin(handle func(pattern string, h func(*http.Request) (int, any, error))) {
	handle("GET /_sim/roster/{userId}", s.adminRoster)
	handle("PUT /_sim/roster/{userId}", s.adminSetRoster)
	handle("GET /_sim/attendance", s.adminAttendance)
	handle("POST /_sim/attendance", func(r *http.Request) (int, any, error) {
		var req struct {
			Records []AttendanceRecord `json:"records"`
		}
		corpID, err := corpParam(r)
		if err == nil {
			err = readJSON(r, &req)
		}
		if err != nil {
			return 0, nil, err
		}
		recs, err := s.AddAttendance(corpID, req.Records)
		return http.StatusCreated, map[string]any{"records": recs}, err
	})
	handle("GET /_sim/approvals", func(r *http.Request) (int, any, error) {
		corpID, err := corpParam(r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"processes": s.ApprovalProcesses(corpID), "instances": s.ApprovalInstances(corpID)}, nil
	})
	handle("POST /_sim/approvals", func(r *http.Request) (int, any, error) { return adminCreate(r, s.AddApprovalInstance) })
	handle("PATCH /_sim/approvals/{instanceId}", func(r *http.Request) (int, any, error) {
		var req struct {
			Status string `json:"status"`
			Result string `json:"result"`
		}
		corpID, err := corpParam(r)
		if err == nil {
			err = readJSON(r, &req)
		}
		if err != nil {
			return 0, nil, err
		}
		inst, err := s.SetApprovalStatus(corpID, r.PathValue("instanceId"), req.Status, req.Result)
		return http.StatusOK, inst, err
	})
}

func (s *Server) adminAttendance(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	from, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), ChinaTime)
	to, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), ChinaTime)
	if err1 != nil || err2 != nil || to.Before(from) {
		return 0, nil, fmt.Errorf("%w: from and to must be dates (yyyy-MM-dd), from first", ErrInvalid)
	}
	var users []string
	if u := q.Get("userId"); u != "" {
		users = []string{u}
	}
	return http.StatusOK, map[string]any{"records": s.Attendance(corpID, users, from, to)}, nil
}

func (s *Server) adminRoster(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	fields, err := s.Roster(corpID, r.PathValue("userId"))
	return http.StatusOK, map[string]any{"fields": fields}, err
}

func (s *Server) adminSetRoster(r *http.Request) (int, any, error) {
	var req struct {
		Fields map[string]string `json:"fields"`
	}
	corpID, err := corpParam(r)
	if err == nil {
		err = readJSON(r, &req)
	}
	if err != nil {
		return 0, nil, err
	}
	codes := make([]string, 0, len(req.Fields))
	for code := range req.Fields {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		if err := s.SetRosterField(corpID, r.PathValue("userId"), code, req.Fields[code]); err != nil {
			return 0, nil, err
		}
	}
	return s.adminRoster(r)
}
