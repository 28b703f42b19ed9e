package dingtalksim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Smart-HR roster (智能人事花名册): every current user has the fields of rosterFields, derived
// from the user (name, job number, main department, hire date) or generated from the corp and
// the userid alone (certificate number, gender, employee type and status), so they read the
// same every time. SetRosterField (or PUT /_sim/roster/{userId}) overrides one field of one
// user, or adds a field of any other code (a corp's custom roster field).

// APIRosterQuery is the roster read endpoint (new API).
const APIRosterQuery = "/v1.0/hrm/rosters/lists/query"

// PermRosterRead allows reading the smart-HR roster (rosters/lists/query); it is the scope a
// refusal names in requiredScopes. UNCONFIRMED: the name of DingTalk's 智能人事 read scope.
const PermRosterRead = "qyapi_smartwork_hrm"

const (
	rosterMaxUsers  = 100
	rosterMaxFields = 100
)

// Roster field codes the simulator generates for every user.
const (
	RosterName           = "sys00-name"
	RosterJobNumber      = "sys00-jobNumber"
	RosterMainDeptID     = "sys00-mainDeptId"
	RosterMainDept       = "sys00-mainDept"
	RosterConfirmJoin    = "sys00-confirmJoinTime"
	RosterEmployeeType   = "sys01-employeeType"
	RosterEmployeeStatus = "sys01-employeeStatus"
	RosterCertNo         = "sys02-certNo"
	RosterSexType        = "sys02-sexType"
)

// RosterField is one roster field of one user as rosters/lists/query returns it.
type RosterField struct {
	FieldCode      string             `json:"fieldCode"`
	FieldName      string             `json:"fieldName"`
	GroupID        string             `json:"groupId"`
	FieldValueList []RosterFieldValue `json:"fieldValueList"`
}

// RosterFieldValue is one value of a roster field: an option field (employee type, status,
// gender) has its option value and its label, other fields the same text in both.
type RosterFieldValue struct {
	Value     string `json:"value"`
	Label     string `json:"label"`
	ItemIndex int    `json:"itemIndex"`
}

// rosterSpec names a generated field and the group it belongs to.
type rosterSpec struct{ code, name, group string }

// rosterFields are the fields generated for every user, in the order they are returned.
var rosterFields = []rosterSpec{
	{RosterName, "姓名", "sys00"}, {RosterJobNumber, "工号", "sys00"}, {RosterMainDeptID, "主部门id", "sys00"},
	{RosterMainDept, "主部门", "sys00"}, {RosterConfirmJoin, "入职时间", "sys00"},
	{RosterEmployeeType, "员工类型", "sys01"}, {RosterEmployeeStatus, "员工状态", "sys01"},
	{RosterCertNo, "证件号码", "sys02"}, {RosterSexType, "性别", "sys02"},
}

// Option labels of the generated option fields.
var (
	employeeTypes    = [][2]string{{"1", "全职"}, {"2", "兼职"}, {"3", "实习"}, {"4", "劳务派遣"}}
	employeeStatuses = [][2]string{{"2", "试用"}, {"3", "正式"}}
	sexTypes         = [][2]string{{"0", "男"}, {"1", "女"}}
)

// rosterData is the overridden and added roster fields: corp → userid → code → value.
type rosterData struct {
	mu    sync.Mutex
	corps map[string]map[string]map[string]string
}

func newRosterData() *rosterData {
	return &rosterData{corps: map[string]map[string]map[string]string{}}
}

// rosterRequest is the body of POST /v1.0/hrm/rosters/lists/query.
type rosterRequest struct {
	UserIDList      []string `json:"userIdList"`
	FieldFilterList []string `json:"fieldFilterList"`
	AppAgentID      *int64   `json:"appAgentId"`
}

func (r *rosterRequest) check() error {
	switch {
	case r.AppAgentID == nil || *r.AppAgentID <= 0:
		return errors.New("appAgentId is required")
	case len(r.UserIDList) == 0 || len(r.UserIDList) > rosterMaxUsers:
		return fmt.Errorf("userIdList must have 1..%d userids", rosterMaxUsers)
	case len(r.FieldFilterList) > rosterMaxFields:
		return fmt.Errorf("fieldFilterList must have at most %d field codes", rosterMaxFields)
	}
	return nil
}

// rosterEntry is one user of the rosters/lists/query response.
type rosterEntry struct {
	CorpID        string        `json:"corpId"`
	UserID        string        `json:"userId"`
	FieldDataList []RosterField `json:"fieldDataList"`
}

// rosterQuery serves POST /v1.0/hrm/rosters/lists/query (new API): the fields of
// fieldFilterList (every field when it is empty) of the current users of userIdList, in that
// order; unknown and departed users are left out, and so are codes a user has no field for.
// appAgentId is required and must be the app's AgentId when the app has one.
func (s *Server) rosterQuery(c *call) reply {
	req, rep, ok := parse(c, (*rosterRequest).check)
	if !ok {
		return rep
	}
	if c.app.AgentID != 0 && *req.AppAgentID != c.app.AgentID {
		return c.invalid("appAgentId is not the app's AgentId")
	}
	out := []rosterEntry{}
	for _, id := range req.UserIDList {
		fields, err := s.rosterOf(c.app.CorpID, id)
		if err != nil {
			continue
		}
		e := rosterEntry{CorpID: c.app.CorpID, UserID: id, FieldDataList: []RosterField{}}
		for _, f := range fields {
			if len(req.FieldFilterList) == 0 || slices.Contains(req.FieldFilterList, f.FieldCode) {
				e.FieldDataList = append(e.FieldDataList, f)
			}
		}
		out = append(out, e)
	}
	return c.ok(map[string]any{"result": out, "success": true})
}

// rosterOf is a current user's roster fields: the generated ones with their overrides, then
// the added ones by code.
func (s *Server) rosterOf(corpID, userID string) ([]RosterField, error) {
	s.mu.RLock()
	var u User
	var mainDept string
	c := s.corps[corpID]
	if c != nil && c.users[userID] != nil {
		u = c.users[userID].User
		if len(u.DeptIDList) > 0 && c.depts[u.DeptIDList[0]] != nil {
			mainDept = c.depts[u.DeptIDList[0]].Name
		}
	}
	s.mu.RUnlock()
	if u.UserID == "" {
		return nil, fmt.Errorf("%w: corp %q has no current user %q", ErrNotFound, corpID, userID)
	}
	fields := generatedRoster(corpID, u, mainDept)
	s.rosters.mu.Lock()
	defer s.rosters.mu.Unlock()
	set := s.rosters.corps[corpID][userID]
	for i, f := range fields {
		if v, ok := set[f.FieldCode]; ok {
			fields[i].FieldValueList = textValue(v)
		}
	}
	var added []string
	for code := range set {
		if !slices.ContainsFunc(fields, func(f RosterField) bool { return f.FieldCode == code }) {
			added = append(added, code)
		}
	}
	slices.Sort(added)
	for _, code := range added {
		fields = append(fields, RosterField{FieldCode: code, FieldName: code, GroupID: "custom", FieldValueList: textValue(set[code])})
	}
	return fields, nil
}

// generatedRoster is the user's generated roster fields, in rosterFields order.
func generatedRoster(corpID string, u User, mainDept string) []RosterField {
	h := hash64("roster", corpID, u.UserID)
	vals := map[string][]RosterFieldValue{
		RosterName:           textValue(u.Name),
		RosterJobNumber:      textValue(u.JobNumber),
		RosterMainDept:       textValue(mainDept),
		RosterCertNo:         textValue(certNo(h)),
		RosterEmployeeType:   optionValue(employeeTypes[weighted(h>>8, 85, 5, 5, 5)]),
		RosterEmployeeStatus: optionValue(employeeStatuses[weighted(h>>16, 10, 90)]),
		RosterSexType:        optionValue(sexTypes[(h>>24)%2]),
	}
	if len(u.DeptIDList) > 0 {
		vals[RosterMainDeptID] = textValue(strconv.FormatInt(u.DeptIDList[0], 10))
	}
	if u.HiredDate > 0 {
		vals[RosterConfirmJoin] = textValue(time.UnixMilli(u.HiredDate).In(ChinaTime).Format(time.DateOnly))
	}
	fields := make([]RosterField, 0, len(rosterFields))
	for _, sp := range rosterFields {
		fields = append(fields, RosterField{FieldCode: sp.code, FieldName: sp.name, GroupID: sp.group,
			FieldValueList: vals[sp.code]})
	}
	return fields
}

// textValue is a text field's value list (empty for no value).
func textValue(v string) []RosterFieldValue {
	if v == "" {
		return []RosterFieldValue{}
	}
	return []RosterFieldValue{{Value: v, Label: v}}
}

func optionValue(opt [2]string) []RosterFieldValue {
	return []RosterFieldValue{{Value: opt[0], Label: opt[1]}}
}

// weighted picks an index by percentages (which sum to 100) from h.
func weighted(h uint64, percents ...int) int {
	pick := int(h % 100)
	for i, p := range percents {
		if pick < p {
			return i
		}
		pick -= p
	}
	return len(percents) - 1
}

// certNo is a well-formed 18-digit Chinese resident ID number (GB 11643) drawn from h: a
// Beijing area code, a birth date in 1965..1999, a sequence and the ISO 7064 check digit.
func certNo(h uint64) string {
	birth := time.Date(1965, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(h%(35*365)))
	body := fmt.Sprintf("1101%02d%s%03d", 1+(h>>12)%17, birth.Format("20060102"), (h>>20)%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, d := range body {
		sum += int(d-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

// Roster is the ground truth of a current user's roster fields: code → value (option fields
// give their option value), as rosters/lists/query would return them.
func (s *Server) Roster(corpID, userID string) (map[string]string, error) {
	fields, err := s.rosterOf(corpID, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		if len(f.FieldValueList) > 0 {
			out[f.FieldCode] = f.FieldValueList[0].Value
		}
	}
	return out, nil
}

// SetRosterField sets one roster field of a current user (value "" clears it): a generated
// field's value is replaced, any other code adds a field. It is not a contact change, so no
// event is pushed, as DingTalk pushes none for roster edits to a contact callback.
func (s *Server) SetRosterField(corpID, userID, code, value string) error {
	if code == "" {
		return fmt.Errorf("%w: roster field code is required", ErrInvalid)
	}
	if _, err := s.rosterOf(corpID, userID); err != nil {
		return err
	}
	s.rosters.mu.Lock()
	defer s.rosters.mu.Unlock()
	users := s.rosters.corps[corpID]
	if users == nil {
		users = map[string]map[string]string{}
		s.rosters.corps[corpID] = users
	}
	if users[userID] == nil {
		users[userID] = map[string]string{}
	}
	users[userID][code] = value
	return nil
}
