package dingtalksim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Approvals (审批): every corp has four approval processes, leave (请假) among them, and, made the
// first time they are asked for, 0-3 instances per current user started over the 60 days before,
// the older ones finished. AddApprovalInstance and SetApprovalStatus (or /_sim/approvals) start
// and decide more.

// Approval statuses and results, as GET /v1.0/workflow/processInstances reports them.
const (
	ApprovalRunning    = "RUNNING"
	ApprovalTerminated = "TERMINATED" // withdrawn by the originator
	ApprovalCompleted  = "COMPLETED"
	ResultAgree        = "agree"
	ResultRefuse       = "refuse"
)

// Process codes of the generated approval processes.
const (
	ProcessLeave    = "PROC-DSIM-LEAVE"
	ProcessTrip     = "PROC-DSIM-TRIP"
	ProcessExpense  = "PROC-DSIM-EXPENSE"
	ProcessOvertime = "PROC-DSIM-OVERTIME"
)

// ComponentLeave is the componentType of DingTalk's leave control, found only in leave forms.
const ComponentLeave = "DDHolidayField"

// ApprovalProcess is one approval form as /v1.0/workflow/processes/userVisibilities/templates
// lists it.
type ApprovalProcess struct {
	ProcessCode string `json:"processCode"`
	Name        string `json:"name"`
	IconURL     string `json:"iconUrl"`
	URL         string `json:"url"`
	DirID       string `json:"dirId"`
	DirName     string `json:"dirName"`
}

// FormValue is one filled-in form component of an instance.
type FormValue struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Value         string `json:"value"`
	ExtValue      string `json:"extValue,omitempty"`
	ComponentType string `json:"componentType"`
	BizAlias      string `json:"bizAlias,omitempty"`
}

// ApprovalInstance is one approval instance, the ground truth behind the instance id query and
// the instance details.
type ApprovalInstance struct {
	ID               string      `json:"processInstanceId"`
	ProcessCode      string      `json:"processCode"`
	Title            string      `json:"title"`
	OriginatorUserID string      `json:"originatorUserId"`
	OriginatorDeptID string      `json:"originatorDeptId"`
	Status           string      `json:"status"`
	Result           string      `json:"result"`
	BusinessID       string      `json:"businessId"`
	CreateTime       time.Time   `json:"createTime"`
	FinishTime       time.Time   `json:"finishTime,omitzero"`
	FormValues       []FormValue `json:"formComponentValues"`
}

// approvalData is every corp's approvals, made on first use.
type approvalData struct {
	mu    sync.Mutex
	corps map[string]*corpApprovals
}

type corpApprovals struct {
	processes []ApprovalProcess
	byID      map[string]*ApprovalInstance
	byProcess map[string][]*ApprovalInstance // by create time, then id
	seq       int
}

func newApprovalData() *approvalData { return &approvalData{corps: map[string]*corpApprovals{}} }

var defaultProcesses = []ApprovalProcess{
	{ProcessCode: ProcessLeave, Name: "请假", DirID: "1", DirName: "假勤管理"},
	{ProcessCode: ProcessTrip, Name: "出差", DirID: "1", DirName: "假勤管理"},
	{ProcessCode: ProcessExpense, Name: "报销", DirID: "2", DirName: "财务管理"},
	{ProcessCode: ProcessOvertime, Name: "加班", DirID: "1", DirName: "假勤管理"},
}

// approvalsOf returns corpID's approvals, generating them on first use; s.approvals.mu is held.
func (s *Server) approvalsOf(corpID string, now time.Time) *corpApprovals {
	if ca := s.approvals.corps[corpID]; ca != nil {
		return ca
	}
	ca := &corpApprovals{byID: map[string]*ApprovalInstance{}, byProcess: map[string][]*ApprovalInstance{}}
	for _, p := range defaultProcesses {
		p.IconURL = "https://gw.alicdn.com/tfs/dsim/" + p.ProcessCode + ".png"
		p.URL = "https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?processCode=" + p.ProcessCode
		ca.processes = append(ca.processes, p)
	}
	s.mu.RLock()
	var users []User
	depts := map[int64]string{}
	if c := s.corps[corpID]; c != nil {
		for _, u := range c.users {
			users = append(users, u.User)
		}
		for id, d := range c.depts {
			depts[id] = d.Name
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.UserID, b.UserID) })
	for _, u := range users {
		h := hash64("approvals", corpID, u.UserID)
		for i := range int(h % 4) {
			ca.add(generatedInstance(corpID, u, i, now))
		}
	}
	s.approvals.corps[corpID] = ca
	return ca
}

// add indexes inst, keeping its process's instances by create time.
func (ca *corpApprovals) add(inst *ApprovalInstance) {
	ca.byID[inst.ID] = inst
	list := append(ca.byProcess[inst.ProcessCode], inst)
	slices.SortStableFunc(list, func(a, b *ApprovalInstance) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), cmp.Compare(a.ID, b.ID))
	})
	ca.byProcess[inst.ProcessCode] = list
}

// generatedInstance is the i-th instance user started: a leave (40%), trip, expense or overtime
// request started 0-60 days before now; those older than 3 days are decided or withdrawn.
func generatedInstance(corpID string, u User, i int, now time.Time) *ApprovalInstance {
	h := hash64("instance", corpID, u.UserID, strconv.Itoa(i))
	created := now.Add(-time.Duration(h>>8%(60*24*60)) * time.Minute).Truncate(time.Minute)
	inst := &ApprovalInstance{ID: instanceID(h), OriginatorUserID: u.UserID, OriginatorDeptID: "-1",
		Status: ApprovalRunning, CreateTime: created, BusinessID: created.In(ChinaTime).Format("200601021504") + fmt.Sprintf("%06d", h%1_000_000)}
	if len(u.DeptIDList) > 0 {
		inst.OriginatorDeptID = strconv.FormatInt(u.DeptIDList[0], 10)
	}
	start := startOfDay(created).AddDate(0, 0, 1+int(h>>24%7))
	var name string
	switch pick := h >> 16 % 10; {
	case pick < 4:
		inst.ProcessCode, name = ProcessLeave, "请假"
		kinds := []string{"年假", "事假", "病假", "调休"}
		kind := kinds[h>>28%4]
		if kind == "调休" {
			inst.FormValues = LeaveForm(kind, start.Add(14*time.Hour), start.Add(18*time.Hour), 4, "hour")
		} else {
			days := 1 + int(h>>30%3)
			inst.FormValues = LeaveForm(kind, start, start.AddDate(0, 0, days-1), float64(days), "day")
		}
	case pick < 6:
		inst.ProcessCode, name = ProcessTrip, "出差"
		inst.FormValues = []FormValue{{ID: "TextField-DSIM01", Name: "出差地点", Value: []string{"上海", "深圳", "杭州", "成都"}[h>>34%4], ComponentType: "TextField"},
			{ID: "DDDateRangeField-DSIM02", Name: `["开始时间","结束时间"]`, Value: fmt.Sprintf(`["%s","%s",2]`, start.Format(time.DateOnly), start.AddDate(0, 0, 1).Format(time.DateOnly)), ComponentType: "DDDateRangeField"}}
	case pick < 9:
		inst.ProcessCode, name = ProcessExpense, "报销"
		inst.FormValues = []FormValue{{ID: "MoneyField-DSIM01", Name: "报销金额（元）", Value: fmt.Sprintf("%d.00", 50+h>>36%3000), ComponentType: "MoneyField"},
			{ID: "TextareaField-DSIM02", Name: "报销事由", Value: "差旅费用", ComponentType: "TextareaField"}}
	default:
		inst.ProcessCode, name = ProcessOvertime, "加班"
		inst.FormValues = []FormValue{{ID: "DDDateRangeField-DSIM01", Name: `["开始时间","结束时间"]`, Value: fmt.Sprintf(`["%s","%s",3]`,
			start.Add(18*time.Hour).Format("2006-01-02 15:04"), start.Add(21*time.Hour).Format("2006-01-02 15:04")), ComponentType: "DDDateRangeField"}}
	}
	inst.Title = u.Name + "提交的" + name
	if now.Sub(created) > 3*24*time.Hour {
		inst.FinishTime = created.Add(time.Duration(1+h>>40%48) * time.Hour)
		switch h >> 46 % 20 {
		case 0:
			inst.Status = ApprovalTerminated
		case 1, 2, 3:
			inst.Status, inst.Result = ApprovalCompleted, ResultRefuse
		default:
			inst.Status, inst.Result = ApprovalCompleted, ResultAgree
		}
	}
	return inst
}

// instanceID formats a hash like DingTalk's instance ids.
func instanceID(h uint64) string {
	g := hash64(strconv.FormatUint(h, 16))
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(h>>32), uint16(h>>16), uint16(h), uint16(g>>48), g&(1<<48-1))
}

// LeaveForm is the form of a leave request as DingTalk fills in its leave control: start and end
// ("yyyy-MM-dd" for a unit of day or halfDay, "yyyy-MM-dd HH:mm" for hour, Beijing time), the
// duration in unit, and the kind of leave (年假, 事假, 病假, 调休, ...); then the reason.
func LeaveForm(kind string, start, end time.Time, duration float64, unit string) []FormValue {
	layout := time.DateOnly
	if unit == "hour" {
		layout = "2006-01-02 15:04"
	}
	value, _ := json.Marshal([]any{start.In(ChinaTime).Format(layout), end.In(ChinaTime).Format(layout), duration, unit, kind, "请假类型"})
	ext, _ := json.Marshal(map[string]any{"unit": unit, "tag": kind, "durationInDay": duration})
	return []FormValue{
		{ID: "DDHolidayField-DSIM01", Name: `["开始时间","结束时间"]`, Value: string(value), ExtValue: string(ext), ComponentType: ComponentLeave},
		{ID: "TextareaField-DSIM02", Name: "请假事由", Value: "个人事务", ComponentType: "TextareaField"},
	}
}

// ApprovalProcesses is corpID's approval processes.
func (s *Server) ApprovalProcesses(corpID string) []ApprovalProcess {
	s.approvals.mu.Lock()
	defer s.approvals.mu.Unlock()
	return slices.Clone(s.approvalsOf(corpID, s.clock()).processes)
}

// ApprovalInstances is the ground truth of corpID's approval instances, by create time.
func (s *Server) ApprovalInstances(corpID string) []ApprovalInstance {
	s.approvals.mu.Lock()
	defer s.approvals.mu.Unlock()
	ca := s.approvalsOf(corpID, s.clock())
	out := make([]ApprovalInstance, 0, len(ca.byID))
	for _, p := range ca.processes {
		for _, inst := range ca.byProcess[p.ProcessCode] {
			out = append(out, inst.clone())
		}
	}
	slices.SortStableFunc(out, func(a, b ApprovalInstance) int { return a.CreateTime.Compare(b.CreateTime) })
	return out
}

func (inst *ApprovalInstance) clone() ApprovalInstance {
	c := *inst
	c.FormValues = slices.Clone(inst.FormValues)
	return c
}

// AddApprovalInstance starts an approval instance in corpID: its process must exist and its
// originator be a current user. An empty id gets a new one; a zero create time is now; the
// status defaults to RUNNING and the title to "<name>提交的<process>". It records a
// bpms_instance_change event of type start, and one of type finish or terminate when the
// instance is added decided or withdrawn.
func (s *Server) AddApprovalInstance(corpID string, in ApprovalInstance) (ApprovalInstance, error) {
	var out ApprovalInstance
	err := s.changeApprovals(corpID, func(now time.Time) ([]*ApprovalEvent, error) {
		var err error
		if out, err = s.addApprovalInstance(corpID, in, now); err != nil {
			return nil, err
		}
		events := []*ApprovalEvent{approvalEvent(out, ApprovalChangeStart)}
		if change := decisionChange(out.Status); change != "" {
			events = append(events, approvalEvent(out, change))
		}
		return events, nil
	})
	return out, err
}

func (s *Server) addApprovalInstance(corpID string, in ApprovalInstance, now time.Time) (ApprovalInstance, error) {
	s.mu.RLock()
	var user *User
	if c := s.corps[corpID]; c != nil && c.users[in.OriginatorUserID] != nil {
		u := c.users[in.OriginatorUserID].User
		user = &u
	}
	s.mu.RUnlock()
	if user == nil {
		return ApprovalInstance{}, fmt.Errorf("%w: originator %q is not a current user of corp %q", ErrInvalid, in.OriginatorUserID, corpID)
	}
	s.approvals.mu.Lock()
	defer s.approvals.mu.Unlock()
	ca := s.approvalsOf(corpID, now)
	i := slices.IndexFunc(ca.processes, func(p ApprovalProcess) bool { return p.ProcessCode == in.ProcessCode })
	switch {
	case i < 0:
		return ApprovalInstance{}, fmt.Errorf("%w: no approval process %q", ErrInvalid, in.ProcessCode)
	case in.ID != "" && ca.byID[in.ID] != nil:
		return ApprovalInstance{}, fmt.Errorf("%w: approval instance %s exists", ErrConflict, in.ID)
	case in.Status != "" && in.Status != ApprovalRunning && in.Status != ApprovalCompleted && in.Status != ApprovalTerminated:
		return ApprovalInstance{}, fmt.Errorf("%w: status %q", ErrInvalid, in.Status)
	}
	ca.seq++
	if in.ID == "" {
		in.ID = instanceID(hash64("added", corpID, strconv.Itoa(ca.seq), now.String()))
	}
	if in.CreateTime.IsZero() {
		in.CreateTime = now
	}
	in.Status = cmp.Or(in.Status, ApprovalRunning)
	in.Title = cmp.Or(in.Title, user.Name+"提交的"+ca.processes[i].Name)
	in.OriginatorDeptID = cmp.Or(in.OriginatorDeptID, "-1")
	in.BusinessID = cmp.Or(in.BusinessID, in.CreateTime.In(ChinaTime).Format("200601021504")+fmt.Sprintf("%06d", ca.seq))
	in.FormValues = slices.Clone(in.FormValues)
	inst := in
	ca.add(&inst)
	return inst.clone(), nil
}

// SetApprovalStatus decides or withdraws corpID's instance id: status COMPLETED with result agree
// or refuse, TERMINATED, or RUNNING again. A final status sets the finish time to now and
// records a bpms_instance_change event (finish or terminate); RUNNING again, which DingTalk
// has no event for, records none.
func (s *Server) SetApprovalStatus(corpID, id, status, result string) (ApprovalInstance, error) {
	switch {
	case status == ApprovalCompleted && (result == ResultAgree || result == ResultRefuse):
	case (status == ApprovalTerminated || status == ApprovalRunning) && result == "":
	default:
		return ApprovalInstance{}, fmt.Errorf("%w: status %q with result %q", ErrInvalid, status, result)
	}
	var out ApprovalInstance
	err := s.changeApprovals(corpID, func(now time.Time) ([]*ApprovalEvent, error) {
		var err error
		if out, err = s.setApprovalStatus(corpID, id, status, result, now); err != nil {
			return nil, err
		}
		if change := decisionChange(status); change != "" {
			return []*ApprovalEvent{approvalEvent(out, change)}, nil
		}
		return nil, nil
	})
	return out, err
}

func (s *Server) setApprovalStatus(corpID, id, status, result string, now time.Time) (ApprovalInstance, error) {
	s.approvals.mu.Lock()
	defer s.approvals.mu.Unlock()
	inst := s.approvalsOf(corpID, now).byID[id]
	if inst == nil {
		return ApprovalInstance{}, fmt.Errorf("%w: approval instance %s", ErrNotFound, id)
	}
	inst.Status, inst.Result, inst.FinishTime = status, result, time.Time{}
	if status != ApprovalRunning {
		inst.FinishTime = now
	}
	return inst.clone(), nil
}
