package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The contact write APIs, which push eHR-owned fields to DingTalk. DingTalk answers each with
// the contact event a console change would push (user_add_org, user_modify_org).
const (
	// APIUserCreate adds a member to the org.
	APIUserCreate = "/topapi/v2/user/create"
	// APIUserUpdate changes fields of a member.
	APIUserUpdate = "/topapi/v2/user/update"
)

// userWritePermission is the permission the contact write APIs need (通讯录管理).
const userWritePermission = "qyapi_manage_addresslist"

// MaxUserNameLength is the longest member name, in characters, DingTalk accepts.
const MaxUserNameLength = 80

// DingTalk's errcodes refusing a write that clashes with another member of the org.
const (
	codeMobileTaken = "60104" // 手机号码在公司中已存在
	codeUserIDTaken = "60102" // 用户在公司中已存在
)

// UserWrite is a member's fields as user/create and user/update take them. Only fields
// that are set are sent: update leaves the others unchanged, create leaves them empty. A
// field set to "" is sent, and clears it.
type UserWrite struct {
	// UserID names the member: update requires it; create lets DingTalk generate one when
	// it is empty.
	UserID string
	// Name (at most MaxUserNameLength characters) and Mobile are required by create.
	Name   *string
	Mobile *string

	Title     *string
	JobNumber *string
	Email     *string
	OrgEmail  *string
	Telephone *string
	WorkPlace *string
	Remark    *string
	// HiredDate is the hire date in unix milliseconds.
	HiredDate *int64
	// DeptIDs are the member's departments, sent as dept_id_list "1,2"; create requires at
	// least one. nil leaves them out.
	DeptIDs []int64
	// Extension holds the custom fields, sent as a JSON object in a string. nil leaves them
	// out.
	Extension map[string]string
}

// userWriteParams is a UserWrite on the wire.
type userWriteParams struct {
	UserID    string  `json:"userid,omitempty"`
	Name      *string `json:"name,omitempty"`
	Mobile    *string `json:"mobile,omitempty"`
	Title     *string `json:"title,omitempty"`
	JobNumber *string `json:"job_number,omitempty"`
	Email     *string `json:"email,omitempty"`
	OrgEmail  *string `json:"org_email,omitempty"`
	Telephone *string `json:"telephone,omitempty"`
	WorkPlace *string `json:"work_place,omitempty"`
	Remark    *string `json:"remark,omitempty"`
	HiredDate *int64  `json:"hired_date,omitempty"`
	DeptIDs   string  `json:"dept_id_list,omitempty"`
	Extension string  `json:"extension,omitempty"`
}

// newUserWriteParams encodes u: DeptIDs as "1,2", Extension as a JSON object in a string.
func newUserWriteParams(u UserWrite) userWriteParams {
	p := userWriteParams{UserID: u.UserID, Name: u.Name, Mobile: u.Mobile, Title: u.Title, JobNumber: u.JobNumber,
		Email: u.Email, OrgEmail: u.OrgEmail, Telephone: u.Telephone, WorkPlace: u.WorkPlace, Remark: u.Remark,
		HiredDate: u.HiredDate}
	ids := make([]string, len(u.DeptIDs))
	for i, id := range u.DeptIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	p.DeptIDs = strings.Join(ids, ",")
	if u.Extension != nil {
		ext, _ := json.Marshal(u.Extension) // a map of strings always encodes
		p.Extension = string(ext)
	}
	return p
}

// checkUserWrite refuses, before sending, a write DingTalk would reject as invalid.
func checkUserWrite(api string, u UserWrite, create bool) error {
	switch {
	case !create && u.UserID == "":
		return invalidArgument(api, "empty userid: name the DingTalk member to update")
	case create && u.Name == nil:
		return invalidArgument(api, "no name: DingTalk needs one to create a member; fill it in the eHR record")
	case create && u.Mobile == nil:
		return invalidArgument(api, "no mobile: DingTalk needs one to create a member; fill it in the eHR record")
	case create && len(u.DeptIDs) == 0:
		return invalidArgument(api, "no dept_id_list: DingTalk needs a department to create a member in")
	case u.Name != nil && *u.Name == "":
		return invalidArgument(api, "empty name: DingTalk requires one; fill it in the eHR record")
	case u.Name != nil && utf8.RuneCountInString(*u.Name) > MaxUserNameLength:
		return invalidArgument(api, "name of %d characters, DingTalk allows %d: shorten it in the eHR record",
			utf8.RuneCountInString(*u.Name), MaxUserNameLength)
	case u.Mobile != nil && *u.Mobile == "":
		return invalidArgument(api, "empty mobile: DingTalk requires one; fill it in the eHR record")
	case u.DeptIDs != nil && len(u.DeptIDs) == 0:
		return invalidArgument(api, "empty dept_id_list: a member needs a department (leave DeptIDs nil to keep them)")
	}
	for _, id := range u.DeptIDs {
		if id < 1 {
			return invalidArgument(api, "invalid department id %d in dept_id_list", id)
		}
	}
	return nil
}

type userCreateResult struct {
	UserID string `json:"userid"`
}

// CreateUser adds member u to app's org and returns its userid (u.UserID, or the one
// DingTalk generated). A mobile another member has fails IsMobileTaken, a userid that
// exists IsUserIDTaken, an unknown department KindNotFound. The client retries transient
// failures, so a retry after a lost answer may meet the member it created: look the
// member up before treating those two as a clash.
func (c *Client) CreateUser(ctx context.Context, app App, u UserWrite) (string, error) {
	if err := checkUserWrite(APIUserCreate, u, true); err != nil {
		return "", err
	}
	res, err := oapiCall(ctx, c, app, APIUserCreate, newUserWriteParams(u), func(r *userCreateResult) error {
		if r.UserID == "" {
			return errors.New("no userid")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return res.UserID, nil
}

// UpdateUser changes the fields set in u of member u.UserID. An unknown member (or one who
// left) is KindNotFound; a mobile another member has fails IsMobileTaken.
func (c *Client) UpdateUser(ctx context.Context, app App, u UserWrite) error {
	if err := checkUserWrite(APIUserUpdate, u, false); err != nil {
		return err
	}
	// topLevel: the answer carries nothing beside errcode, and its result may be absent.
	spec := oapiSpec{api: APIUserUpdate, topLevel: true}
	_, err := oapiDo(ctx, c, app, spec, newUserWriteParams(u), noCheck[struct{}])
	return err
}

// IsMobileTaken reports whether err is DingTalk refusing a mobile that another member of
// the org already has (60104).
func IsMobileTaken(err error) bool { return hasCode(err, codeMobileTaken) }

// IsUserIDTaken reports whether err is DingTalk refusing to create a member whose userid
// exists already (60102).
func IsUserIDTaken(err error) bool { return hasCode(err, codeUserIDTaken) }
