package dingtalksim

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Endpoints beyond the contact APIs, served so that binding can probe each permission:
// they check the permission and the parameters, then answer as if there were nothing to
// report (dingtalk-api.md §8, §9).

// sendProgressBody is the getsendprogress response.
type sendProgressBody struct {
	oapiStatus
	Progress struct {
		ProgressInPercent int `json:"progress_in_percent"`
		Status            int `json:"status"` // 0 waiting, 1 sending, 2 done
	} `json:"progress"`
}

// sendProgressRequest is the getsendprogress body.
type sendProgressRequest struct {
	AgentID *int64 `json:"agent_id"`
	TaskID  *int64 `json:"task_id"`
}

func (r *sendProgressRequest) check() error {
	switch {
	case r.AgentID == nil:
		return errors.New("agent_id is required")
	case r.TaskID == nil:
		return errors.New("task_id is required")
	}
	return nil
}

// sendProgress serves POST /topapi/message/corpconversation/getsendprogress: every task
// is done.
func (s *Server) sendProgress(c *call) reply {
	if _, rep, ok := parse(c, (*sendProgressRequest).check); !ok {
		return rep
	}
	body := sendProgressBody{oapiStatus: c.oapiOK()}
	body.Progress.ProgressInPercent, body.Progress.Status = 100, 2
	return c.okFlat(body)
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
	case len(r.UserIDList) > 50:
		return errors.New("userIdList must have at most 50 userids")
	case r.Offset < 0:
		return errors.New("offset must not be negative")
	case r.Limit < 0 || r.Limit > 50:
		return errors.New("limit must be at most 50")
	}
	return nil
}

// attendanceListBody is the attendance/list response.
type attendanceListBody struct {
	oapiStatus
	RecordResult []struct{} `json:"recordresult"`
	HasMore      bool       `json:"hasMore"`
}

// attendanceList serves POST /attendance/list: no clock-in records.
func (s *Server) attendanceList(c *call) reply {
	if _, rep, ok := parse(c, (*attendanceListRequest).check); !ok {
		return rep
	}
	return c.okFlat(attendanceListBody{oapiStatus: c.oapiOK(), RecordResult: []struct{}{}})
}

// instanceIDsRequest is the body of POST /v1.0/workflow/processes/instanceIds/query.
type instanceIDsRequest struct {
	ProcessCode string   `json:"processCode"`
	StartTime   int64    `json:"startTime"` // unix ms
	EndTime     int64    `json:"endTime"`   // unix ms; 0: now
	NextToken   int64    `json:"nextToken"`
	MaxResults  int64    `json:"maxResults"`
	UserIDs     []string `json:"userIds"`
	Statuses    []string `json:"statuses"`
}

const (
	approvalMaxSpan = 120 * 24 * time.Hour
	approvalMaxAge  = 365 * 24 * time.Hour
)

var approvalStatuses = []string{"RUNNING", "TERMINATED", "COMPLETED"}

// check validates the request against now.
func (r *instanceIDsRequest) check(now time.Time) error {
	start, end := time.UnixMilli(r.StartTime), now
	if r.EndTime != 0 {
		end = time.UnixMilli(r.EndTime)
	}
	switch {
	case r.ProcessCode == "":
		return errors.New("processCode is required")
	case r.StartTime <= 0 || start.Before(now.Add(-approvalMaxAge)):
		return errors.New("startTime must be within the last 365 days")
	case end.Before(start) || end.Sub(start) > approvalMaxSpan:
		return errors.New("endTime must be within 120 days after startTime")
	case r.NextToken < 0:
		return errors.New("nextToken must not be negative")
	case r.MaxResults < 0 || r.MaxResults > 20:
		return errors.New("maxResults must be at most 20")
	case len(r.UserIDs) > 10:
		return errors.New("userIds must have at most 10 userids")
	}
	for _, st := range r.Statuses {
		if !slices.Contains(approvalStatuses, st) {
			return fmt.Errorf("statuses: unknown status %q", st)
		}
	}
	return nil
}

// instanceIDsBody is the instanceIds/query response.
type instanceIDsBody struct {
	Result struct {
		List      []string `json:"list"`
		NextToken int64    `json:"nextToken"`
	} `json:"result"`
	Success bool `json:"success"`
}

// approvalInstanceIDs serves POST /v1.0/workflow/processes/instanceIds/query (new API):
// no approval instances.
func (s *Server) approvalInstanceIDs(c *call) reply {
	_, rep, ok := parse(c, func(r *instanceIDsRequest) error { return r.check(c.now) })
	if !ok {
		return rep
	}
	body := instanceIDsBody{Success: true}
	body.Result.List = []string{}
	return c.ok(body)
}
