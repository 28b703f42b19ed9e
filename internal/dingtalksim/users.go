package dingtalksim

import (
	"cmp"
	"slices"
	"strings"
)

// Wire types and handlers of the user endpoints (dingtalk-api.md §3).

// userRequest is the body of user/get and listparentbyuser.
type userRequest struct {
	UserID   string `json:"userid"`
	Language string `json:"language"`
}

// userListRequest is the body of user/list and user/listsimple.
type userListRequest struct {
	DeptID             *int64 `json:"dept_id"`
	Cursor             *int64 `json:"cursor"`
	Size               *int64 `json:"size"`
	OrderField         string `json:"order_field"`
	ContainAccessLimit bool   `json:"contain_access_limit"`
	Language           string `json:"language"`
}

// userListItem is one entry of user/list: dept_order and leader are about the listed
// department. The sensitive fields are omitted without PermUserSensitive.
type userListItem struct {
	UserID           string  `json:"userid"`
	UnionID          string  `json:"unionid"`
	Name             string  `json:"name"`
	Avatar           string  `json:"avatar,omitempty"`
	StateCode        string  `json:"state_code"`
	Mobile           string  `json:"mobile,omitempty"`
	HideMobile       bool    `json:"hide_mobile"`
	Telephone        string  `json:"telephone,omitempty"`
	JobNumber        string  `json:"job_number,omitempty"`
	Title            string  `json:"title,omitempty"`
	Email            string  `json:"email,omitempty"`
	OrgEmail         string  `json:"org_email,omitempty"`
	WorkPlace        string  `json:"work_place,omitempty"`
	Remark           string  `json:"remark,omitempty"`
	DeptIDList       []int64 `json:"dept_id_list"`
	DeptOrder        int64   `json:"dept_order"`
	Extension        string  `json:"extension,omitempty"`
	HiredDate        int64   `json:"hired_date,omitempty"`
	Active           bool    `json:"active"`
	Admin            bool    `json:"admin"`
	Boss             bool    `json:"boss"`
	Leader           bool    `json:"leader"`
	ExclusiveAccount bool    `json:"exclusive_account"`
}

// simpleUser is one entry of user/listsimple.
type simpleUser struct {
	UserID string `json:"userid"`
	Name   string `json:"name"`
}

// userPage is the result of the paged user lists.
type userPage[T any] struct {
	HasMore    bool  `json:"has_more"`
	NextCursor int64 `json:"next_cursor,omitempty"`
	List       []T   `json:"list"`
}

// orderFields are the accepted order_field values ("" is custom).
var orderFields = []string{"", "custom", "entry_asc", "entry_desc", "modify_asc", "modify_desc"}

// lookupUser finds the user a request names: 33012 for an unknown userid, 60121 for one
// that left, 50002 when all its departments are outside the app's scope. Callers hold s.mu.
func (s *Server) lookupUser(c *call, id string) (*user, reply, bool) {
	org := s.orgOf(c)
	u := org.users[id]
	switch {
	case u == nil && org.left[id]:
		return nil, c.fail(CodeUserNotFound, "找不到该用户", OutcomeNotFound), false
	case u == nil:
		return nil, c.fail(CodeInvalidUserID, "无效的userid", OutcomeNotFound), false
	}
	for _, id := range u.DeptIDList {
		if !c.app.outOfScope(org.depts[id]) {
			return u, reply{}, true
		}
	}
	return nil, c.fail(CodeNotInScope, "不在授权范围内", OutcomeDenied), false
}

// listPage validates a paged list request and returns the page of members it asks for.
// badCursor and badSize are the errcodes for those parameters (user/list answers 40035
// for both, listsimple 40068 and 40069). Callers hold s.mu.
func (s *Server) listPage(c *call, req userListRequest, badCursor, badSize int) (*dept, userPage[*user], reply, bool) {
	var page userPage[*user]
	switch {
	case req.Size == nil || *req.Size < 1 || *req.Size > 100:
		return nil, page, c.fail(badSize, "size must be 1..100", OutcomeInvalid), false
	case req.Cursor == nil || *req.Cursor < 0:
		return nil, page, c.fail(badCursor, "cursor must be >= 0", OutcomeInvalid), false
	case !slices.Contains(orderFields, req.OrderField):
		return nil, page, c.fail(CodeInvalidParam, "invalid order_field", OutcomeInvalid), false
	}
	d, rep, ok := s.lookupDept(c, req.DeptID, true)
	if !ok {
		return nil, page, rep, false
	}
	members := sortedMembers(d, req.OrderField)
	start := min(*req.Cursor, int64(len(members)))
	end := min(start+*req.Size, int64(len(members)))
	page.List = members[start:end]
	if end < int64(len(members)) {
		page.HasMore, page.NextCursor = true, end
	}
	return d, page, reply{}, true
}

// sortedMembers orders d's members by order_field; custom (the default) is the stored
// order, the others sort a copy.
func sortedMembers(d *dept, field string) []*user {
	var key func(u *user) int64
	switch field {
	case "entry_asc", "entry_desc":
		key = func(u *user) int64 { return u.HiredDate }
	case "modify_asc", "modify_desc":
		key = func(u *user) int64 { return u.modified }
	default:
		return d.members
	}
	sign := 1
	if strings.HasSuffix(field, "_desc") {
		sign = -1
	}
	out := slices.Clone(d.members)
	slices.SortStableFunc(out, func(a, b *user) int { return sign * cmp.Compare(key(a), key(b)) })
	return out
}

// userList serves /topapi/v2/user/list: the users directly in one department.
func (s *Server) userList(c *call) reply {
	var req userListRequest
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	sensitive := c.app.can(PermUserSensitive)
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, page, rep, ok := s.listPage(c, req, CodeInvalidParam, CodeInvalidParam)
	if !ok {
		return rep
	}
	out := userPage[userListItem]{HasMore: page.HasMore, NextCursor: page.NextCursor, List: make([]userListItem, len(page.List))}
	for i, u := range page.List {
		out.List[i] = listItem(&u.User, d.ID, sensitive)
	}
	return c.ok(out)
}

// listItem renders u as listed in department deptID. It shares u's DeptIDList, which
// the store never changes in place.
func listItem(u *User, deptID int64, sensitive bool) userListItem {
	it := userListItem{
		UserID: u.UserID, UnionID: u.UnionID, Name: u.Name, Avatar: u.Avatar, StateCode: u.StateCode,
		HideMobile: u.HideMobile, Telephone: u.Telephone, JobNumber: u.JobNumber, Title: u.Title,
		DeptIDList: u.DeptIDList, DeptOrder: u.orderIn(deptID), HiredDate: u.HiredDate,
		Active: u.Active, Admin: u.Admin, Boss: u.Boss, Leader: u.leaderIn(deptID), ExclusiveAccount: u.ExclusiveAccount,
	}
	if sensitive {
		it.Mobile, it.Email, it.OrgEmail, it.WorkPlace, it.Remark, it.Extension = u.Mobile, u.Email, u.OrgEmail, u.WorkPlace, u.Remark, u.Extension
	}
	return it
}

// userListSimple serves /topapi/user/listsimple.
func (s *Server) userListSimple(c *call) reply {
	var req userListRequest
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, page, rep, ok := s.listPage(c, req, CodeInvalidOffset, CodeInvalidSize)
	if !ok {
		return rep
	}
	out := userPage[simpleUser]{HasMore: page.HasMore, NextCursor: page.NextCursor, List: make([]simpleUser, len(page.List))}
	for i, u := range page.List {
		out.List[i] = simpleUser{UserID: u.UserID, Name: u.Name}
	}
	return c.ok(out)
}

// userGet serves /topapi/v2/user/get.
func (s *Server) userGet(c *call) reply {
	var req userRequest
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, rep, ok := s.lookupUser(c, req.UserID)
	if !ok {
		return rep
	}
	out := u.User.clone()
	if !c.app.can(PermUserSensitive) {
		out.hideSensitive()
	}
	return c.ok(out)
}

// userListID serves /topapi/user/listid: every userid directly in a department (not
// limited by scope, not paged).
func (s *Server) userListID(c *call) reply {
	return s.withDept(c, deptRequest{}, false, func(d *dept) reply {
		ids := make([]string, len(d.members))
		for i, u := range d.members {
			ids[i] = u.UserID
		}
		return c.ok(struct {
			UserIDList []string `json:"userid_list"`
		}{ids})
	})
}

// userCount serves /topapi/user/count.
func (s *Server) userCount(c *call) reply {
	var req struct {
		OnlyActive *bool `json:"only_active"`
	}
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	if req.OnlyActive == nil {
		return c.fail(CodeInvalidParam, "only_active is required", OutcomeInvalid)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	org := s.orgOf(c)
	n := len(org.users)
	if *req.OnlyActive {
		n = org.active
	}
	return c.ok(struct {
		Count int `json:"count"`
	}{n})
}

// userByUnionID serves /topapi/user/getbyunionid: the userid of the corp's user with a
// unionid (contact_type 0: an employee), 60121 when there is none (or they left). It
// scans the users: logins are rare.
func (s *Server) userByUnionID(c *call) reply {
	var req struct {
		UnionID string `json:"unionid"`
	}
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	if req.UnionID == "" {
		return c.invalid("unionid is required")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.orgOf(c).users {
		if u.UnionID == req.UnionID {
			return c.ok(struct {
				ContactType int    `json:"contact_type"`
				UserID      string `json:"userid"`
			}{0, u.UserID})
		}
	}
	return c.fail(CodeUserNotFound, "找不到该用户", OutcomeNotFound)
}
