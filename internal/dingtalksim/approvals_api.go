package dingtalksim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

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
	approvalMaxSpan  = 120 * 24 * time.Hour
	approvalMaxAge   = 365 * 24 * time.Hour
	approvalMaxPage  = 20
	processesMaxPage = 100
)

var approvalStatuses = []string{ApprovalRunning, ApprovalTerminated, ApprovalCompleted}

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
	case r.MaxResults < 0 || r.MaxResults > approvalMaxPage:
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

// approvalInstanceIDs serves POST /v1.0/workflow/processes/instanceIds/query (new API): the ids
// of the process's instances started in [startTime, endTime] (of the given originators and
// statuses, if any), oldest first, maxResults (default 20) per page; nextToken is 0 on the last.
// An unknown process code has no instances.
func (s *Server) approvalInstanceIDs(c *call) reply {
	req, rep, ok := parse(c, func(r *instanceIDsRequest) error { return r.check(c.now) })
	if !ok {
		return rep
	}
	start, end := time.UnixMilli(req.StartTime), c.now
	if req.EndTime != 0 {
		end = time.UnixMilli(req.EndTime)
	}
	ids := []string{}
	s.approvals.mu.Lock()
	for _, inst := range s.approvalsOf(c.app.CorpID, c.now).byProcess[req.ProcessCode] {
		if inst.CreateTime.Before(start) || inst.CreateTime.After(end) ||
			len(req.UserIDs) > 0 && !slices.Contains(req.UserIDs, inst.OriginatorUserID) ||
			len(req.Statuses) > 0 && !slices.Contains(req.Statuses, inst.Status) {
			continue
		}
		ids = append(ids, inst.ID)
	}
	s.approvals.mu.Unlock()
	size := req.MaxResults
	if size == 0 {
		size = approvalMaxPage
	}
	lo := min(req.NextToken, int64(len(ids)))
	hi := min(lo+size, int64(len(ids)))
	body := instanceIDsBody{Success: true}
	body.Result.List = ids[lo:hi]
	if hi < int64(len(ids)) {
		body.Result.NextToken = hi
	}
	return c.ok(body)
}

// processesBody is the userVisibilities/templates response.
type processesBody struct {
	Result struct {
		ProcessList []ApprovalProcess `json:"processList"`
		NextToken   int64             `json:"nextToken,omitempty"`
	} `json:"result"`
}

// approvalProcesses serves GET /v1.0/workflow/processes/userVisibilities/templates?userId=
// &maxResults=&nextToken= (new API): the corp's approval forms (every one: visibility per user is
// not modelled; a userId must be a current user), maxResults (1..100) per page from nextToken;
// nextToken is absent on the last page. DingTalk names the permission Workflow.Form.Read; the
// simulator checks PermApprovalRead.
func (s *Server) approvalProcesses(c *call) reply {
	q := c.r.URL.Query()
	size, err := strconv.ParseInt(q.Get("maxResults"), 10, 64)
	if err != nil || size < 1 || size > processesMaxPage {
		return c.apiFail(http.StatusBadRequest, "invalidMaxResults", "分页参数非法，每页大小，最多传100。", OutcomeInvalid)
	}
	offset, err := strconv.ParseInt(q.Get("nextToken"), 10, 64)
	if err != nil || offset < 0 {
		return c.apiFail(http.StatusBadRequest, "invalidNextToken", "分页查询的游标不能为空", OutcomeInvalid)
	}
	if u := q.Get("userId"); u != "" {
		s.mu.RLock()
		known := s.orgOf(c) != nil && s.orgOf(c).users[u] != nil
		s.mu.RUnlock()
		if !known {
			return c.apiFail(http.StatusBadRequest, "invalidParameter", "userId is not a user of the corp", OutcomeInvalid)
		}
	}
	s.approvals.mu.Lock()
	all := s.approvalsOf(c.app.CorpID, c.now).processes
	lo := min(offset, int64(len(all)))
	hi := min(lo+size, int64(len(all)))
	var body processesBody
	body.Result.ProcessList = slices.Clone(all[lo:hi])
	s.approvals.mu.Unlock()
	if body.Result.ProcessList == nil {
		body.Result.ProcessList = []ApprovalProcess{}
	}
	if hi < int64(len(all)) {
		body.Result.NextToken = hi
	}
	return c.ok(body)
}

// instanceDetail is an instance as GET /v1.0/workflow/processInstances returns it, times as
// "yyyy-MM-ddTHH:mmZ" (UTC).
type instanceDetail struct {
	Title                      string            `json:"title"`
	CreateTime                 string            `json:"createTime"`
	FinishTime                 string            `json:"finishTime,omitempty"`
	OriginatorUserID           string            `json:"originatorUserId"`
	OriginatorDeptID           string            `json:"originatorDeptId"`
	Status                     string            `json:"status"`
	Result                     string            `json:"result"`
	BusinessID                 string            `json:"businessId"`
	BizAction                  string            `json:"bizAction"`
	ApproverUserIDs            []string          `json:"approverUserIds"`
	CcUserIDs                  []string          `json:"ccUserIds"`
	AttachedProcessInstanceIDs []string          `json:"attachedProcessInstanceIds"`
	OperationRecords           []operationRecord `json:"operationRecords"`
	Tasks                      []struct{}        `json:"tasks"`
	FormComponentValues        []FormValue       `json:"formComponentValues"`
}

type operationRecord struct {
	UserID string `json:"userId"`
	Date   string `json:"date"`
	Type   string `json:"type"`
	Result string `json:"result"`
}

const detailTimeLayout = "2006-01-02T15:04Z"

// approvalInstance serves GET /v1.0/workflow/processInstances?processInstanceId= (new API):
// {"result": the instance, "success": "true"}; an unknown id is HTTP 400 processInstanceNotExist.
func (s *Server) approvalInstance(c *call) reply {
	id := c.r.URL.Query().Get("processInstanceId")
	if id == "" {
		return c.apiFail(http.StatusBadRequest, "processInstanceIdError", "processInstanceId参数无效", OutcomeInvalid)
	}
	s.approvals.mu.Lock()
	inst := s.approvalsOf(c.app.CorpID, c.now).byID[id]
	var d instanceDetail
	if inst != nil {
		d = detailOf(inst)
	}
	s.approvals.mu.Unlock()
	if inst == nil {
		return c.apiFail(http.StatusBadRequest, "processInstanceNotExist", "审批实例不存在", OutcomeNotFound)
	}
	return c.ok(struct {
		Result  instanceDetail `json:"result"`
		Success string         `json:"success"`
	}{d, "true"})
}

func detailOf(inst *ApprovalInstance) instanceDetail {
	d := instanceDetail{Title: inst.Title, CreateTime: inst.CreateTime.UTC().Format(detailTimeLayout),
		OriginatorUserID: inst.OriginatorUserID, OriginatorDeptID: inst.OriginatorDeptID, Status: inst.Status,
		Result: inst.Result, BusinessID: inst.BusinessID, BizAction: "NONE", ApproverUserIDs: []string{}, CcUserIDs: []string{},
		AttachedProcessInstanceIDs: []string{}, Tasks: []struct{}{}, FormComponentValues: slices.Clone(inst.FormValues),
		OperationRecords: []operationRecord{{UserID: inst.OriginatorUserID, Date: inst.CreateTime.UTC().Format(detailTimeLayout),
			Type: "START_PROCESS_INSTANCE", Result: "NONE"}}}
	if !inst.FinishTime.IsZero() {
		d.FinishTime = inst.FinishTime.UTC().Format(detailTimeLayout)
	}
	if d.FormComponentValues == nil {
		d.FormComponentValues = []FormValue{}
	}
	return d
}
