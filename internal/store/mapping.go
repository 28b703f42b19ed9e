package store

import (
	"encoding/json"
	"slices"

	"github.com/dingsync/dingsync/internal/dingtalk"
)

// EmployeeProfile is an employee's attributes as the HR store keeps them (employees.attrs,
// less the per-department "departments" list the apply adds). Every key is always present
// so HR readers see one shape; fields the app may not read are empty strings.
type EmployeeProfile struct {
	Name             string          `json:"name"`
	UnionID          string          `json:"unionid"`
	Avatar           string          `json:"avatar"`
	StateCode        string          `json:"state_code"`
	Mobile           string          `json:"mobile"`
	HideMobile       bool            `json:"hide_mobile"`
	Telephone        string          `json:"telephone"`
	JobNumber        string          `json:"job_number"`
	Title            string          `json:"title"`
	Email            string          `json:"email"`
	OrgEmail         string          `json:"org_email"`
	WorkPlace        string          `json:"work_place"`
	Remark           string          `json:"remark"`
	DeptIDList       []int64         `json:"dept_id_list"`
	Extension        json.RawMessage `json:"extension"`
	HiredDate        int64           `json:"hired_date"`
	Activated        bool            `json:"activated"`
	Admin            bool            `json:"admin"`
	Boss             bool            `json:"boss"`
	ExclusiveAccount bool            `json:"exclusive_account"`
	// Roster holds the smart-HR roster values (field code → value) of exactly the codes the
	// binding's mapping reads, absent when it reads none, so the profile and its hash are
	// unchanged for bindings without roster fields.
	Roster map[string]string `json:"roster,omitempty"`
	// CustomFields are the binding's mapped fields (see internal/fieldmap), absent without one.
	CustomFields map[string]any `json:"custom_fields,omitempty"`
}

// ProfileFromUser maps a DingTalk user to the attributes the HR store keeps.
func ProfileFromUser(u dingtalk.User) EmployeeProfile {
	depts := slices.Clone(u.DeptIDList)
	slices.Sort(depts)
	if depts == nil {
		depts = []int64{}
	}
	return EmployeeProfile{
		Name: u.Name, UnionID: u.UnionID, Avatar: u.Avatar, StateCode: u.StateCode,
		Mobile: u.Mobile, HideMobile: u.HideMobile, Telephone: u.Telephone,
		JobNumber: u.JobNumber, Title: u.Title, Email: u.Email, OrgEmail: u.OrgEmail,
		WorkPlace: u.WorkPlace, Remark: u.Remark, DeptIDList: depts,
		Extension: extensionJSON(u.Extension), HiredDate: u.HiredDate, Activated: u.Active,
		Admin: u.Admin, Boss: u.Boss, ExclusiveAccount: u.ExclusiveAccount,
	}
}

// extensionJSON keeps DingTalk's extension (a string holding a JSON object) as an object
// when it parses, as a JSON string when it does not, and as {} when it is empty.
func extensionJSON(ext string) json.RawMessage {
	if ext == "" {
		return json.RawMessage(`{}`)
	}
	var obj map[string]any
	if json.Unmarshal([]byte(ext), &obj) == nil {
		return json.RawMessage(ext)
	}
	quoted, _ := json.Marshal(ext)
	return quoted
}

// DepartmentAttrs is a department's attributes as the HR store keeps them (departments.attrs).
type DepartmentAttrs struct {
	Name            string `json:"name"`
	ParentID        int64  `json:"parent_id"`
	CreateDeptGroup bool   `json:"create_dept_group"`
	AutoAddUser     bool   `json:"auto_add_user"`
}

// AttrsFromDepartment maps a DingTalk department to the attributes the HR store keeps.
func AttrsFromDepartment(d dingtalk.Department) DepartmentAttrs {
	return DepartmentAttrs{Name: d.Name, ParentID: d.ParentID, CreateDeptGroup: d.CreateDeptGroup, AutoAddUser: d.AutoAddUser}
}
