// Package dingtalk is dingsync's client for the DingTalk Open Platform server APIs.
//
// It speaks both API families (legacy oapi with ?access_token= and errcode bodies, and the
// new api.dingtalk.com with the x-acs-dingtalk-access-token header), caches one access token
// per app, rate-limits every call per (corp, API) below DingTalk's own limits and classifies
// every failure once, here, into a typed *Error. It works unchanged against the real hosts
// and against dingsync's simulator (internal/dingtalksim).
package dingtalk

import (
	"fmt"
	"time"
)

// RootDepartmentID is the id of the root department of every DingTalk org.
const RootDepartmentID int64 = 1

// App is one DingTalk app's credentials as the client needs them. Only activities build an
// App (after decrypting the secret); workflows never see one.
type App struct {
	CorpID    string
	AppKey    string
	AppSecret string
	// CredentialVersion changes when the secret is rotated; cached tokens of another version
	// are never used.
	CredentialVersion int
}

// String names the app without its secret, so an App can be logged or wrapped in errors.
func (a App) String() string {
	return fmt.Sprintf("app %s of corp %s (credential v%d)", a.AppKey, a.CorpID, a.CredentialVersion)
}

// GoString keeps %#v from printing the secret too.
func (a App) GoString() string { return a.String() }

// Department is one entry of /topapi/v2/department/listsub.
type Department struct {
	ID              int64  `json:"dept_id"`
	Name            string `json:"name"`
	ParentID        int64  `json:"parent_id"`
	CreateDeptGroup bool   `json:"create_dept_group"`
	AutoAddUser     bool   `json:"auto_add_user"`
}

// DepartmentDetail is the result of /topapi/v2/department/get (the fields dingsync uses).
type DepartmentDetail struct {
	ID                  int64    `json:"dept_id"`
	Name                string   `json:"name"`
	ParentID            int64    `json:"parent_id"`
	Order               int64    `json:"order"`
	SourceIdentifier    string   `json:"source_identifier"`
	OrgDeptOwner        string   `json:"org_dept_owner"`
	DeptManagerUserIDs  []string `json:"dept_manager_userid_list"`
	MemberCount         int64    `json:"member_count"`
	OwningMemberCount   int64    `json:"owning_member_count"`
	HideDept            bool     `json:"hide_dept"`
	OuterDept           bool     `json:"outer_dept"`
	CreateDeptGroup     bool     `json:"create_dept_group"`
	AutoAddUser         bool     `json:"auto_add_user"`
	GroupContainSubDept bool     `json:"group_contain_sub_dept"`
}

// User is one entry of /topapi/v2/user/list, and the common part of /topapi/v2/user/get.
// Optional fields (mobile, email, ...) are empty when the app lacks the contact permission
// for them or the user has no value.
type User struct {
	UserID           string  `json:"userid"`
	UnionID          string  `json:"unionid"`
	Name             string  `json:"name"`
	Avatar           string  `json:"avatar"`
	StateCode        string  `json:"state_code"`
	Mobile           string  `json:"mobile"`
	HideMobile       bool    `json:"hide_mobile"`
	Telephone        string  `json:"telephone"`
	JobNumber        string  `json:"job_number"`
	Title            string  `json:"title"`
	Email            string  `json:"email"`
	OrgEmail         string  `json:"org_email"`
	WorkPlace        string  `json:"work_place"`
	Remark           string  `json:"remark"`
	DeptIDList       []int64 `json:"dept_id_list"`
	DeptOrder        int64   `json:"dept_order"`
	Extension        string  `json:"extension"`
	HiredDate        int64   `json:"hired_date"`
	Active           bool    `json:"active"`
	Admin            bool    `json:"admin"`
	Boss             bool    `json:"boss"`
	Leader           bool    `json:"leader"`
	ExclusiveAccount bool    `json:"exclusive_account"`
}

// UserDetail is the result of /topapi/v2/user/get: a User plus the per-user fields that
// user/list does not return.
type UserDetail struct {
	User
	ManagerUserID string         `json:"manager_userid"`
	RealAuthed    bool           `json:"real_authed"`
	Senior        bool           `json:"senior"`
	DeptOrderList []DeptOrder    `json:"dept_order_list"`
	LeaderInDept  []LeaderInDept `json:"leader_in_dept"`
	RoleList      []Role         `json:"role_list"`
}

// DeptOrder is a user's order within one department.
type DeptOrder struct {
	DeptID int64 `json:"dept_id"`
	Order  int64 `json:"order"`
}

// LeaderInDept says whether a user leads one department.
type LeaderInDept struct {
	DeptID int64 `json:"dept_id"`
	Leader bool  `json:"leader"`
}

// Role is a DingTalk role a user holds.
type Role struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	GroupName string `json:"group_name"`
}

// UserPage is one page of /topapi/v2/user/list.
type UserPage struct {
	Users      []User
	HasMore    bool
	NextCursor int64
}

// MaxUserPageSize is the largest page user/list accepts (the SDK validates 1..100).
const MaxUserPageSize = 100

// API names, used as rate-limiter keys, metric labels and in errors. They are the request
// paths, which is what DingTalk's per-API limits are counted on.
const (
	APIToken             = "/v1.0/oauth2/accessToken"
	APIDepartmentListSub = "/topapi/v2/department/listsub"
	APIDepartmentSubIDs  = "/topapi/v2/department/listsubid"
	APIDepartmentGet     = "/topapi/v2/department/get"
	APIUserList          = "/topapi/v2/user/list"
	APIUserGet           = "/topapi/v2/user/get"
	APIUserListID        = "/topapi/user/listid"
	APIUserListSimple    = "/topapi/user/listsimple"
	APIUserCount         = "/topapi/user/count"
	APIEmpLeaveRecords   = "/v1.0/contact/empLeaveRecords"

	APIUserAccessToken  = "/v1.0/oauth2/userAccessToken"
	APICurrentUser      = "/v1.0/contact/users/me"
	APIUserGetByUnionID = "/topapi/user/getbyunionid"

	APICallbackRegister = "/call_back/register_call_back"
	APICallbackUpdate   = "/call_back/update_call_back"
	APICallbackGet      = "/call_back/get_call_back"
	APICallbackDelete   = "/call_back/delete_call_back"

	APIMessageSendProgress = "/topapi/message/corpconversation/getsendprogress"
	APIMessageAsyncSend    = "/topapi/message/corpconversation/asyncsend_v2"
	APIMessageSendResult   = "/topapi/message/corpconversation/getsendresult"
	APIAttendanceList      = "/attendance/list"
	APIApprovalInstanceIDs = "/v1.0/workflow/processes/instanceIds/query"
)

// DefaultQPS is DingTalk's standard-edition limit per app per API.
const DefaultQPS = 20

// DefaultTokenMargin is how long before expiry a cached token is refreshed.
const DefaultTokenMargin = 5 * time.Minute
