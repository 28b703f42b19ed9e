package dingtalksim

import "time"

// Org is one corp's organization: what GenerateOrg produces, LoadOrg installs and Truth
// reports. Departments are ordered by id, users by userid, leavers by leave time.
type Org struct {
	CorpID      string        `json:"corpId"`
	Departments []Department  `json:"departments"`
	Users       []User        `json:"users"`
	Leavers     []LeaveRecord `json:"leavers"`
}

// Department is one department exactly as /topapi/v2/department/get returns it (snake_case
// wire names). MemberCount, OwningMemberCount and DeptManagerUserIDs are derived from the
// users and ignored on input.
type Department struct {
	ID                  int64    `json:"dept_id"`
	Name                string   `json:"name"`
	ParentID            int64    `json:"parent_id"`
	SourceIdentifier    string   `json:"source_identifier,omitempty"`
	CreateDeptGroup     bool     `json:"create_dept_group"`
	AutoAddUser         bool     `json:"auto_add_user"`
	Tags                string   `json:"tags,omitempty"`
	FromUnionOrg        bool     `json:"from_union_org"`
	Order               int64    `json:"order"`
	DeptGroupChatID     string   `json:"dept_group_chat_id,omitempty"`
	GroupContainSubDept bool     `json:"group_contain_sub_dept"`
	OrgDeptOwner        string   `json:"org_dept_owner,omitempty"`
	DeptManagerUserIDs  []string `json:"dept_manager_userid_list"`
	OuterDept           bool     `json:"outer_dept"`
	OuterPermitDepts    []int64  `json:"outer_permit_depts,omitempty"`
	OuterPermitUsers    []string `json:"outer_permit_users,omitempty"`
	HideDept            bool     `json:"hide_dept"`
	UserPermits         []string `json:"user_permits,omitempty"`
	DeptPermits         []int64  `json:"dept_permits,omitempty"`
	AutoApproveApply    bool     `json:"auto_approve_apply"`
	Code                string   `json:"code,omitempty"`
	MemberCount         int64    `json:"member_count"`
	OwningMemberCount   int64    `json:"owning_member_count"`
}

// User is one employee exactly as /topapi/v2/user/get returns it to an app holding every
// contact permission. The per-department values that /topapi/v2/user/list reports as
// dept_order and leader come from DeptOrderList and LeaderInDept, which always cover
// DeptIDList (entries missing on input get a default order and leader=false).
type User struct {
	UserID           string         `json:"userid"`
	UnionID          string         `json:"unionid"`
	Name             string         `json:"name"`
	Avatar           string         `json:"avatar,omitempty"`
	StateCode        string         `json:"state_code"`
	Mobile           string         `json:"mobile,omitempty"`
	HideMobile       bool           `json:"hide_mobile"`
	Telephone        string         `json:"telephone,omitempty"`
	JobNumber        string         `json:"job_number,omitempty"`
	Title            string         `json:"title,omitempty"`
	Email            string         `json:"email,omitempty"`
	OrgEmail         string         `json:"org_email,omitempty"`
	WorkPlace        string         `json:"work_place,omitempty"`
	Remark           string         `json:"remark,omitempty"`
	DeptIDList       []int64        `json:"dept_id_list"`
	Extension        string         `json:"extension,omitempty"`
	HiredDate        int64          `json:"hired_date,omitempty"`
	Active           bool           `json:"active"`
	Admin            bool           `json:"admin"`
	Boss             bool           `json:"boss"`
	ExclusiveAccount bool           `json:"exclusive_account"`
	ManagerUserID    string         `json:"manager_userid,omitempty"`
	RealAuthed       bool           `json:"real_authed"`
	Senior           bool           `json:"senior"`
	DeptOrderList    []DeptOrder    `json:"dept_order_list"`
	LeaderInDept     []LeaderInDept `json:"leader_in_dept"`
	RoleList         []Role         `json:"role_list"`
}

// DeptOrder is a user's order within one department (user/get's dept_order_list).
type DeptOrder struct {
	DeptID int64 `json:"dept_id"`
	Order  int64 `json:"order"`
}

// LeaderInDept says whether a user leads one department (user/get's leader_in_dept).
type LeaderInDept struct {
	DeptID int64 `json:"dept_id"`
	Leader bool  `json:"leader"`
}

// Role is a DingTalk role a user holds (user/get's role_list).
type Role struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	GroupName string `json:"group_name"`
}

// LeaveRecord is one departure as GET /v1.0/contact/empLeaveRecords returns it.
type LeaveRecord struct {
	UserID      string    `json:"userId"`
	Name        string    `json:"name"`
	StateCode   string    `json:"stateCode"`
	Mobile      string    `json:"mobile,omitempty"`
	LeaveTime   time.Time `json:"leaveTime"`
	LeaveReason string    `json:"leaveReason"`
}

// hideSensitive blanks the fields only an app with PermUserSensitive may see.
func (u *User) hideSensitive() {
	u.Mobile, u.Email, u.OrgEmail, u.WorkPlace, u.Remark, u.Extension = "", "", "", "", "", ""
}

// orderIn is the user's order in dept (0 when not a member).
func (u *User) orderIn(dept int64) int64 {
	for _, o := range u.DeptOrderList {
		if o.DeptID == dept {
			return o.Order
		}
	}
	return 0
}

// leaderIn says whether the user leads dept.
func (u *User) leaderIn(dept int64) bool {
	for _, l := range u.LeaderInDept {
		if l.DeptID == dept {
			return l.Leader
		}
	}
	return false
}

// clone deep-copies the user's slices so the copy can leave the lock.
func (u User) clone() User {
	u.DeptIDList = append([]int64{}, u.DeptIDList...)
	u.DeptOrderList = append([]DeptOrder{}, u.DeptOrderList...)
	u.LeaderInDept = append([]LeaderInDept{}, u.LeaderInDept...)
	u.RoleList = append([]Role{}, u.RoleList...)
	return u
}

// clone deep-copies the department's slices.
func (d Department) clone() Department {
	d.DeptManagerUserIDs = append([]string{}, d.DeptManagerUserIDs...)
	d.OuterPermitDepts = cloneOrNil(d.OuterPermitDepts)
	d.OuterPermitUsers = cloneOrNil(d.OuterPermitUsers)
	d.UserPermits = cloneOrNil(d.UserPermits)
	d.DeptPermits = cloneOrNil(d.DeptPermits)
	return d
}

func cloneOrNil[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}
