package dingtalksim

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The department write endpoints: like the user writes they change the org through mutate,
// so the corp's truth changes and org_dept_create / org_dept_modify is pushed. They need
// PermUserWrite (qyapi_manage_addresslist), as on DingTalk.
const (
	// APIDepartmentCreate adds a department under a parent.
	APIDepartmentCreate = "/topapi/v2/department/create"
	// APIDepartmentUpdate changes the fields a request names of a department, moving it
	// with its subtree when parent_id changes.
	APIDepartmentUpdate = "/topapi/v2/department/update"
)

// Errcodes of the department write endpoints, from DingTalk's global error code list.
const (
	// CodeDeptNameInvalid refuses an empty or too long name (不合法的部门名称).
	CodeDeptNameInvalid = 60001
	// CodeParentNotFound refuses an unknown parent (父亲部门不存在).
	CodeParentNotFound = 60004
	// CodeDeptNameTaken refuses a name a sibling has (父部门下该部门名称已存在).
	CodeDeptNameTaken = 60008
	// CodeDeptNameBadChar refuses a name with '-', ',' or '，' (部门名称含有非法字符).
	CodeDeptNameBadChar = 60009
	// CodeDeptCycle refuses a move under the department's own subtree (部门存在循环关系).
	CodeDeptCycle = 60010
	// CodeRootDeptUpdate refuses any update of the root department (不允许更新根部门).
	CodeRootDeptUpdate = 60018
)

const (
	maxDeptNameLength = 64
	deptNameForbidden = "-,，"
)

// deptWriteRequest is the body of department/create and department/update: nil fields
// are absent.
type deptWriteRequest struct {
	DeptID           *int64  `json:"dept_id"` // update only
	Name             *string `json:"name"`
	ParentID         *int64  `json:"parent_id"`
	Order            *int64  `json:"order"`
	SourceIdentifier *string `json:"source_identifier"`
	CreateDeptGroup  *bool   `json:"create_dept_group"`
	HideDept         *bool   `json:"hide_dept"`
	OuterDept        *bool   `json:"outer_dept"`
	Language         string  `json:"language"` // accepted; names are only in Chinese
}

// check requires name and parent_id (create) or dept_id (update); a bad name is answered
// later, with its own errcode (nameRefusal).
func (r *deptWriteRequest) check(create bool) error {
	switch {
	case create && r.Name == nil:
		return errors.New("name is required")
	case create && r.ParentID == nil:
		return errors.New("parent_id is required")
	case !create && r.DeptID == nil:
		return errors.New("dept_id is required")
	}
	return nil
}

// nameRefusal answers a name DingTalk's rule refuses: 1..64 characters, none of '-', ','
// and '，'.
func (c *call) nameRefusal(name *string) (reply, bool) {
	switch {
	case name == nil:
		return reply{}, false
	case *name == "" || utf8.RuneCountInString(*name) > maxDeptNameLength:
		return c.fail(CodeDeptNameInvalid, fmt.Sprintf("不合法的部门名称: name must have 1..%d characters", maxDeptNameLength), OutcomeInvalid), true
	case strings.ContainsAny(*name, deptNameForbidden):
		return c.fail(CodeDeptNameBadChar, "部门名称含有非法字符: name must not contain '-', ',' or '，'", OutcomeInvalid), true
	}
	return reply{}, false
}

// apply sets d's fields the request names (not its parent: the caller moves it).
func (r *deptWriteRequest) apply(d *Department) {
	if r.Name != nil {
		d.Name = *r.Name
	}
	if r.Order != nil {
		d.Order = *r.Order
	}
	if r.SourceIdentifier != nil {
		d.SourceIdentifier = *r.SourceIdentifier
	}
	for _, f := range []struct {
		dst *bool
		v   *bool
	}{{&d.CreateDeptGroup, r.CreateDeptGroup}, {&d.HideDept, r.HideDept}, {&d.OuterDept, r.OuterDept}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
}

// writableParent is the parent a write names: 60004 when it does not exist, 50002 when it
// is outside the app's contact scope. Callers hold s.mu.
func (c *call) writableParent(org *corp, id int64) (*dept, error) {
	p := org.depts[id]
	switch {
	case p == nil:
		return nil, c.refuse(CodeParentNotFound, fmt.Sprintf("父亲部门不存在: %d", id), OutcomeNotFound)
	case c.app.outOfScope(p):
		return nil, c.refuse(CodeNotInScope, "不在授权范围内", OutcomeDenied)
	}
	return p, nil
}

// departmentCreate serves /topapi/v2/department/create: an org_dept_create event, result
// {"dept_id"}. Without an order the department goes last among its siblings.
func (s *Server) departmentCreate(c *call) reply {
	req, rep, ok := parse(c, func(r *deptWriteRequest) error { return r.check(true) })
	if !ok {
		return rep
	}
	if rep, refused := c.nameRefusal(req.Name); refused {
		return rep
	}
	var created int64
	_, err := s.mutate(c.app.CorpID, func(org *corp, _ time.Time) (Event, error) {
		p, err := c.writableParent(org, *req.ParentID)
		if err != nil {
			return Event{}, err
		}
		if p.hasChildNamed(*req.Name, nil) {
			return Event{}, c.refuse(CodeDeptNameTaken, "父部门下该部门名称已存在", OutcomeInvalid)
		}
		d := Department{ID: org.nextDeptID, ParentID: p.ID, Order: p.nextChildOrder(), DeptManagerUserIDs: []string{}}
		req.apply(&d)
		org.nextDeptID++
		nd := &dept{Department: d, parent: p}
		org.depts[d.ID] = nd
		p.insertChild(nd)
		created = d.ID
		return Event{Type: EventDeptCreate, DeptIDs: []int64{d.ID}}, nil
	})
	return c.writeReply(err, func() reply {
		return c.ok(struct {
			DeptID int64 `json:"dept_id"`
		}{created})
	})
}

// departmentUpdate serves /topapi/v2/department/update: the fields present change (an
// org_dept_modify event); 60003 for an unknown department, 60018 for the root.
func (s *Server) departmentUpdate(c *call) reply {
	req, rep, ok := parse(c, func(r *deptWriteRequest) error { return r.check(false) })
	if !ok {
		return rep
	}
	if rep, refused := c.nameRefusal(req.Name); refused {
		return rep
	}
	_, err := s.mutate(c.app.CorpID, func(org *corp, _ time.Time) (Event, error) {
		old := org.depts[*req.DeptID]
		switch {
		case old == nil:
			return Event{}, c.refuse(CodeDeptNotFound, fmt.Sprintf("部门不存在: %d", *req.DeptID), OutcomeNotFound)
		case old.parent == nil:
			return Event{}, c.refuse(CodeRootDeptUpdate, "不允许更新根部门", OutcomeInvalid)
		case c.app.outOfScope(old):
			return Event{}, c.refuse(CodeNotInScope, "不在授权范围内", OutcomeDenied)
		}
		p, err := c.newParent(org, old, req.ParentID)
		if err != nil {
			return Event{}, err
		}
		d := old.Department.clone()
		req.apply(&d)
		d.ParentID = p.ID
		if p.hasChildNamed(d.Name, old) {
			return Event{}, c.refuse(CodeDeptNameTaken, "父部门下该部门名称已存在", OutcomeInvalid)
		}
		org.rewriteDept(old, p, d)
		return Event{Type: EventDeptModify, DeptIDs: []int64{d.ID}}, nil
	})
	return c.writeReply(err, func() reply { return c.okFlat(c.oapiOK()) })
}

// newParent is the parent old has after an update naming parentID (nil: its own): 60010
// when that is old or one of its descendants. Callers hold s.mu.
func (c *call) newParent(org *corp, old *dept, parentID *int64) (*dept, error) {
	if parentID == nil || *parentID == old.ParentID {
		return old.parent, nil
	}
	p, err := c.writableParent(org, *parentID)
	if err != nil {
		return nil, err
	}
	if inSubtree(p, old) {
		return nil, c.refuse(CodeDeptCycle, "部门存在循环关系: a department cannot move under its own subtree", OutcomeInvalid)
	}
	return p, nil
}
