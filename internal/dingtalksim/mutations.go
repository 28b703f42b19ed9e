package dingtalksim

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Errors of the Go and admin APIs, to test with errors.Is.
var (
	// ErrNotFound: the corp, app, user or department does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is malformed or the change is impossible.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the change clashes with the org (the user exists, a sibling department
	// has the name, the department is not empty).
	ErrConflict = errors.New("conflict")
)

// AddUser adds u to corpID (a user_add_org event). u needs a new userid, a name and
// existing departments; a userid that left before may rejoin.
func (s *Server) AddUser(corpID string, u User) (User, error) {
	var out User
	_, err := s.mutate(corpID, func(c *corp, now time.Time) (Event, error) {
		u = u.clone()
		if c.users[u.UserID] != nil {
			return Event{}, fmt.Errorf("%w: user %s exists", ErrConflict, u.UserID)
		}
		if err := c.normalizeUser(&u); err != nil {
			return Event{}, err
		}
		delete(c.left, u.UserID)
		c.link(&user{User: u, modified: now.UnixMilli()})
		out = u.clone()
		return Event{Type: EventUserAddOrg, UserIDs: []string{u.UserID}}, nil
	})
	return out, err
}

// UpdateUser replaces the fields of the user u.UserID with u's (a user_modify_org event,
// or user_active_org when it activates the user). Changing DeptIDList moves the user.
func (s *Server) UpdateUser(corpID string, u User) (User, error) {
	var out User
	_, err := s.mutate(corpID, func(c *corp, now time.Time) (Event, error) {
		old := c.users[u.UserID]
		if old == nil {
			return Event{}, fmt.Errorf("%w: user %q", ErrNotFound, u.UserID)
		}
		typ := EventUserModifyOrg
		if u.Active && !old.Active {
			typ = EventUserActiveOrg
		}
		var err error
		out, err = c.replaceUser(old, u.clone(), now)
		return Event{Type: typ, UserIDs: []string{u.UserID}}, err
	})
	return out, err
}

// MoveUser moves userID from department from to department to, keeping its other
// departments (a user_modify_org event).
func (s *Server) MoveUser(corpID, userID string, from, to int64) (User, error) {
	var out User
	_, err := s.mutate(corpID, func(c *corp, now time.Time) (Event, error) {
		old := c.users[userID]
		if old == nil {
			return Event{}, fmt.Errorf("%w: user %q", ErrNotFound, userID)
		}
		i := slices.Index(old.DeptIDList, from)
		switch {
		case i < 0:
			return Event{}, fmt.Errorf("%w: user %s is not in department %d", ErrInvalid, userID, from)
		case slices.Contains(old.DeptIDList, to):
			return Event{}, fmt.Errorf("%w: user %s is in department %d already", ErrConflict, userID, to)
		}
		u := old.User.clone()
		u.DeptIDList[i] = to
		var err error
		out, err = c.replaceUser(old, u, now)
		return Event{Type: EventUserModifyOrg, UserIDs: []string{userID}}, err
	})
	return out, err
}

// replaceUser swaps old for u (same userid) in the org.
func (c *corp) replaceUser(old *user, u User, now time.Time) (User, error) {
	if err := c.normalizeUser(&u); err != nil {
		return User{}, err
	}
	c.unlink(old)
	c.link(&user{User: u, modified: now.UnixMilli()})
	return u.clone(), nil
}

// RemoveUser makes userID leave corpID (a user_leave_org event): user/get answers 60121
// from now on and empLeaveRecords lists the departure.
func (s *Server) RemoveUser(corpID, userID string) error {
	_, err := s.mutate(corpID, func(c *corp, now time.Time) (Event, error) {
		u := c.users[userID]
		if u == nil {
			return Event{}, fmt.Errorf("%w: user %q", ErrNotFound, userID)
		}
		c.unlink(u)
		c.left[userID] = true
		rec := LeaveRecord{UserID: userID, Name: u.Name, StateCode: u.StateCode, Mobile: u.Mobile, LeaveTime: now, LeaveReason: "leave"}
		i := sort.Search(len(c.leavers), func(i int) bool { return c.leavers[i].LeaveTime.After(now) })
		c.leavers = slices.Insert(c.leavers, i, rec)
		return Event{Type: EventUserLeaveOrg, UserIDs: []string{userID}}, nil
	})
	return err
}

// AddDepartment creates d under d.ParentID (an org_dept_create event). A zero ID is
// assigned; a zero Order puts it last among its siblings. Derived fields are ignored.
func (s *Server) AddDepartment(corpID string, d Department) (Department, error) {
	var out Department
	_, err := s.mutate(corpID, func(c *corp, _ time.Time) (Event, error) {
		d = d.clone()
		p := c.depts[d.ParentID]
		switch {
		case d.Name == "":
			return Event{}, fmt.Errorf("%w: department name is required", ErrInvalid)
		case p == nil:
			return Event{}, fmt.Errorf("%w: parent department %d", ErrNotFound, d.ParentID)
		case c.depts[d.ID] != nil:
			return Event{}, fmt.Errorf("%w: department %d exists", ErrConflict, d.ID)
		case p.hasChildNamed(d.Name, nil):
			return Event{}, fmt.Errorf("%w: department %d already has a child named %q", ErrConflict, p.ID, d.Name)
		}
		if d.ID <= 0 {
			d.ID = c.nextDeptID
		}
		c.nextDeptID = max(c.nextDeptID, d.ID+1)
		if d.Order == 0 {
			d.Order = p.nextChildOrder()
		}
		d.MemberCount, d.OwningMemberCount, d.DeptManagerUserIDs = 0, 0, []string{}
		nd := &dept{Department: d, parent: p}
		c.depts[d.ID] = nd
		p.insertChild(nd)
		out = d.clone()
		return Event{Type: EventDeptCreate, DeptIDs: []int64{d.ID}}, nil
	})
	return out, err
}

// UpdateDepartment replaces the fields of department d.ID with d's (an org_dept_modify
// event): renaming, reordering, or moving it under another parent with its subtree.
// Derived fields are ignored; the root cannot move.
func (s *Server) UpdateDepartment(corpID string, d Department) (Department, error) {
	var out Department
	_, err := s.mutate(corpID, func(c *corp, _ time.Time) (Event, error) {
		old := c.depts[d.ID]
		if old == nil {
			return Event{}, fmt.Errorf("%w: department %d", ErrNotFound, d.ID)
		}
		if err := c.checkDeptUpdate(old, d); err != nil {
			return Event{}, err
		}
		if old.parent == nil {
			old.setFields(d)
			out = old.Department.clone()
			return Event{Type: EventDeptModify, DeptIDs: []int64{d.ID}}, nil
		}
		c.rewriteDept(old, c.depts[d.ParentID], d)
		out = old.Department.clone()
		return Event{Type: EventDeptModify, DeptIDs: []int64{d.ID}}, nil
	})
	return out, err
}

// rewriteDept gives old (not the root) d's settable fields and moves it under p with its
// subtree, keeping the member counts of the old and new ancestors right.
func (c *corp) rewriteDept(old, p *dept, d Department) {
	moved := c.subtreeUsers(old)
	for _, u := range moved {
		c.count(&u.User, -1)
	}
	old.parent.removeChild(old)
	old.setFields(d)
	old.parent = p
	p.insertChild(old)
	for _, u := range moved {
		c.count(&u.User, 1)
	}
}

// setFields takes d's settable fields, keeping the derived ones.
func (d *dept) setFields(f Department) {
	f = f.clone()
	f.MemberCount, f.OwningMemberCount, f.DeptManagerUserIDs = d.MemberCount, d.OwningMemberCount, d.DeptManagerUserIDs
	d.Department = f
}

// checkDeptUpdate validates replacing old with d.
func (c *corp) checkDeptUpdate(old *dept, d Department) error {
	if d.Name == "" {
		return fmt.Errorf("%w: department name is required", ErrInvalid)
	}
	if old.parent == nil {
		if d.ParentID != 0 {
			return fmt.Errorf("%w: the root department cannot move", ErrInvalid)
		}
		return nil
	}
	p := c.depts[d.ParentID]
	switch {
	case p == nil:
		return fmt.Errorf("%w: parent department %d", ErrNotFound, d.ParentID)
	case inSubtree(p, old):
		return fmt.Errorf("%w: department %d cannot move under its own subtree (%d)", ErrInvalid, d.ID, p.ID)
	case p.hasChildNamed(d.Name, old):
		return fmt.Errorf("%w: department %d already has a child named %q", ErrConflict, p.ID, d.Name)
	}
	return nil
}

// RemoveDepartment deletes an empty department (an org_dept_remove event): like DingTalk,
// it refuses one with sub-departments or members, and the root.
func (s *Server) RemoveDepartment(corpID string, deptID int64) error {
	_, err := s.mutate(corpID, func(c *corp, _ time.Time) (Event, error) {
		d := c.depts[deptID]
		switch {
		case d == nil:
			return Event{}, fmt.Errorf("%w: department %d", ErrNotFound, deptID)
		case d.parent == nil:
			return Event{}, fmt.Errorf("%w: the root department cannot be removed", ErrInvalid)
		case len(d.children) > 0 || len(d.members) > 0:
			return Event{}, fmt.Errorf("%w: department %d has sub-departments or members", ErrConflict, deptID)
		}
		d.parent.removeChild(d)
		delete(c.depts, deptID)
		return Event{Type: EventDeptRemove, DeptIDs: []int64{deptID}}, nil
	})
	return err
}
