package dingtalksim

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The contact write endpoints: they change the org through mutate, so the corp's truth
// changes and the usual contact event is pushed (user_add_org, user_modify_org).
const (
	// APIUserCreate adds a member.
	APIUserCreate = "/topapi/v2/user/create"
	// APIUserUpdate changes the fields a request names of a member.
	APIUserUpdate = "/topapi/v2/user/update"
)

// Errcodes of the contact write endpoints.
const (
	// CodeUserIDTaken refuses to create a member whose userid exists (用户在公司中已存在).
	CodeUserIDTaken = 60102
	// CodeMobileTaken refuses a mobile another member of the corp has (手机号码在公司中已存在).
	CodeMobileTaken = 60104
)

const (
	maxUserNameLength = 80
	maxWriteDepts     = 100
)

// userWriteRequest is the body of user/create and user/update: nil fields are absent.
type userWriteRequest struct {
	UserID     string  `json:"userid"`
	Name       *string `json:"name"`
	Mobile     *string `json:"mobile"`
	Title      *string `json:"title"`
	JobNumber  *string `json:"job_number"`
	Email      *string `json:"email"`
	OrgEmail   *string `json:"org_email"`
	Telephone  *string `json:"telephone"`
	WorkPlace  *string `json:"work_place"`
	Remark     *string `json:"remark"`
	HiredDate  *int64  `json:"hired_date"`
	DeptIDList *string `json:"dept_id_list"` // "1,2"
	Extension  *string `json:"extension"`    // a JSON object in a string

	depts []int64 // DeptIDList parsed
}

// check validates the fields present; create requires name, mobile and dept_id_list.
func (r *userWriteRequest) check(create bool) error {
	switch {
	case create && r.Name == nil:
		return errors.New("name is required")
	case create && r.Mobile == nil:
		return errors.New("mobile is required")
	case create && r.DeptIDList == nil:
		return errors.New("dept_id_list is required")
	case !create && r.UserID == "":
		return errors.New("userid is required")
	case r.Name != nil && (*r.Name == "" || utf8.RuneCountInString(*r.Name) > maxUserNameLength):
		return fmt.Errorf("name must have 1..%d characters", maxUserNameLength)
	case r.Mobile != nil && *r.Mobile == "":
		return errors.New("mobile must not be empty")
	case r.Extension != nil && *r.Extension != "" && json.Unmarshal([]byte(*r.Extension), new(map[string]string)) != nil:
		return errors.New("extension must be a JSON object of strings")
	}
	if r.DeptIDList == nil {
		return nil
	}
	parts := strings.Split(*r.DeptIDList, ",")
	if len(parts) > maxWriteDepts {
		return fmt.Errorf("dept_id_list has %d departments, at most %d allowed", len(parts), maxWriteDepts)
	}
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id < 1 {
			return fmt.Errorf("dept_id_list %q is not a comma-separated list of department ids", *r.DeptIDList)
		}
		r.depts = append(r.depts, id)
	}
	return nil
}

// apply sets u's fields the request names.
func (r *userWriteRequest) apply(u *User) {
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&u.Name, r.Name}, {&u.Mobile, r.Mobile}, {&u.Title, r.Title}, {&u.JobNumber, r.JobNumber},
		{&u.Email, r.Email}, {&u.OrgEmail, r.OrgEmail}, {&u.Telephone, r.Telephone},
		{&u.WorkPlace, r.WorkPlace}, {&u.Remark, r.Remark}, {&u.Extension, r.Extension}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if r.Extension != nil && *r.Extension == "{}" {
		u.Extension = "" // no custom fields, as the generator leaves them
	}
	if r.HiredDate != nil {
		u.HiredDate = *r.HiredDate
	}
	if r.depts != nil {
		u.DeptIDList = r.depts
	}
}

// refusal carries an errcode answer out of a mutation.
type refusal struct{ rep reply }

func (r *refusal) Error() string { return fmt.Sprintf("refused (%s)", r.rep.outcome) }

// refuse is a mutation's refusal answering code.
func (c *call) refuse(code int, msg, outcome string) error {
	return &refusal{c.fail(code, msg, outcome)}
}

// checkWrite refuses a write naming an unknown department (60003), one outside the app's
// scope (50002), or a mobile another member than self has (60104); callers hold s.mu.
func (c *call) checkWrite(org *corp, r *userWriteRequest, self string) error {
	for _, id := range r.depts {
		d := org.depts[id]
		switch {
		case d == nil:
			return c.refuse(CodeDeptNotFound, fmt.Sprintf("部门不存在: %d", id), OutcomeNotFound)
		case c.app.outOfScope(d):
			return c.refuse(CodeNotInScope, "不在授权范围内", OutcomeDenied)
		}
	}
	if r.Mobile == nil {
		return nil
	}
	for _, u := range org.users {
		if u.Mobile == *r.Mobile && u.UserID != self {
			return c.refuse(CodeMobileTaken, "手机号码在公司中已存在", OutcomeInvalid)
		}
	}
	return nil
}

// writeReply answers a write's mutation: its refusal, or ok.
func (c *call) writeReply(err error, ok func() reply) reply {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return r.rep
	case err != nil:
		return c.invalid(err.Error())
	}
	return ok()
}

// userCreate serves /topapi/v2/user/create: a user_add_org event, result {"userid"}.
func (s *Server) userCreate(c *call) reply {
	req, rep, ok := parse(c, func(r *userWriteRequest) error { return r.check(true) })
	if !ok {
		return rep
	}
	var created string
	_, err := s.mutate(c.app.CorpID, func(org *corp, now time.Time) (Event, error) {
		if org.users[req.UserID] != nil {
			return Event{}, c.refuse(CodeUserIDTaken, "用户在公司中已存在", OutcomeInvalid)
		}
		if err := c.checkWrite(org, &req, ""); err != nil {
			return Event{}, err
		}
		u := User{UserID: req.UserID}
		if u.UserID == "" {
			u.UserID = org.newUserID(*req.Mobile)
		}
		req.apply(&u)
		if err := org.normalizeUser(&u); err != nil {
			return Event{}, err
		}
		delete(org.left, u.UserID)
		org.link(&user{User: u, modified: now.UnixMilli()})
		created = u.UserID
		return Event{Type: EventUserAddOrg, UserIDs: []string{u.UserID}}, nil
	})
	return c.writeReply(err, func() reply {
		return c.ok(struct {
			UserID string `json:"userid"`
		}{created})
	})
}

// userUpdate serves /topapi/v2/user/update: the fields present change (a user_modify_org
// event); 60121 for a member who does not exist or left.
func (s *Server) userUpdate(c *call) reply {
	req, rep, ok := parse(c, func(r *userWriteRequest) error { return r.check(false) })
	if !ok {
		return rep
	}
	_, err := s.mutate(c.app.CorpID, func(org *corp, now time.Time) (Event, error) {
		old := org.users[req.UserID]
		if old == nil {
			return Event{}, c.refuse(CodeUserNotFound, "找不到该用户", OutcomeNotFound)
		}
		if !c.inScope(org, old) {
			return Event{}, c.refuse(CodeNotInScope, "不在授权范围内", OutcomeDenied)
		}
		if err := c.checkWrite(org, &req, old.UserID); err != nil {
			return Event{}, err
		}
		u := old.User.clone()
		req.apply(&u)
		_, err := org.replaceUser(old, u, now)
		return Event{Type: EventUserModifyOrg, UserIDs: []string{u.UserID}}, err
	})
	return c.writeReply(err, func() reply { return c.okFlat(c.oapiOK()) })
}

// inScope says whether one of u's departments is in the app's contact scope.
func (c *call) inScope(org *corp, u *user) bool {
	for _, id := range u.DeptIDList {
		if !c.app.outOfScope(org.depts[id]) {
			return true
		}
	}
	return false
}

// newUserID is the userid user/create assigns: derived from the corp and the mobile, so
// runs repeat, and unique among current and departed members.
func (org *corp) newUserID(mobile string) string {
	sum := sha1.Sum([]byte(org.id + "/" + mobile))
	base := "sim" + hex.EncodeToString(sum[:8])
	id := base
	for n := 2; org.users[id] != nil || org.left[id]; n++ {
		id = fmt.Sprintf("%s%d", base, n)
	}
	return id
}
