package dingtalksim

// Wire types and handlers of the department endpoints (dingtalk-api.md §2).

// deptRequest is the body of the department endpoints.
type deptRequest struct {
	DeptID   *int64 `json:"dept_id"`
	Language string `json:"language"` // accepted; names are only in Chinese
}

// deptListItem is one entry of listsub.
type deptListItem struct {
	DeptID          int64  `json:"dept_id"`
	Name            string `json:"name"`
	ParentID        int64  `json:"parent_id"`
	CreateDeptGroup bool   `json:"create_dept_group"`
	AutoAddUser     bool   `json:"auto_add_user"`
}

// lookupDept finds the department a request names, answering 40035 when there is no id,
// 60003 when it does not exist and, if scoped, 50002 when it is outside the app's contact
// scope. Callers hold s.mu.
func (s *Server) lookupDept(c *call, id *int64, scoped bool) (*dept, reply, bool) {
	if id == nil {
		return nil, c.fail(CodeInvalidParam, "dept_id is required", OutcomeInvalid), false
	}
	d := s.orgOf(c).depts[*id]
	switch {
	case d == nil:
		return nil, c.fail(CodeDeptNotFound, "部门不存在", OutcomeNotFound), false
	case scoped && c.app.outOfScope(d):
		return nil, c.fail(CodeNotInScope, "不在授权范围内", OutcomeDenied), false
	}
	return d, reply{}, true
}

// withDept serves a request that names one department: it decodes req, looks the
// department up under the read lock (scoped: refused outside the app's contact scope) and
// answers with fn.
func (s *Server) withDept(c *call, req deptRequest, scoped bool, fn func(d *dept) reply) reply {
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, rep, ok := s.lookupDept(c, req.DeptID, scoped)
	if !ok {
		return rep
	}
	return fn(d)
}

// departmentListSub serves /topapi/v2/department/listsub: the direct children, by order.
func (s *Server) departmentListSub(c *call) reply {
	return s.withDept(c, deptRequest{DeptID: new(RootDepartmentID)}, true, func(d *dept) reply {
		out := make([]deptListItem, len(d.children))
		for i, ch := range d.children {
			out[i] = deptListItem{DeptID: ch.ID, Name: ch.Name, ParentID: ch.ParentID, CreateDeptGroup: ch.CreateDeptGroup, AutoAddUser: ch.AutoAddUser}
		}
		return c.ok(out)
	})
}

// departmentListSubID serves /topapi/v2/department/listsubid (not limited by scope).
func (s *Server) departmentListSubID(c *call) reply {
	return s.withDept(c, deptRequest{}, false, func(d *dept) reply {
		ids := make([]int64, len(d.children))
		for i, ch := range d.children {
			ids[i] = ch.ID
		}
		return c.ok(struct {
			DeptIDList []int64 `json:"dept_id_list"`
		}{ids})
	})
}

// departmentGet serves /topapi/v2/department/get.
func (s *Server) departmentGet(c *call) reply {
	return s.withDept(c, deptRequest{}, true, func(d *dept) reply {
		return c.ok(d.Department.clone())
	})
}

// departmentParents serves /topapi/v2/department/listparentbydept: the department itself,
// then its ancestors up to the root.
func (s *Server) departmentParents(c *call) reply {
	return s.withDept(c, deptRequest{}, false, func(d *dept) reply {
		return c.ok(struct {
			ParentIDList []int64 `json:"parent_id_list"`
		}{d.path()})
	})
}

// path is d's id followed by its ancestors' up to the root.
func (d *dept) path() []int64 {
	var ids []int64
	for a := d; a != nil; a = a.parent {
		ids = append(ids, a.ID)
	}
	return ids
}

// userParents serves /topapi/v2/department/listparentbyuser: one path per department of
// the user.
func (s *Server) userParents(c *call) reply {
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
	type parents struct {
		ParentDeptIDList []int64 `json:"parent_dept_id_list"`
	}
	out := make([]parents, len(u.DeptIDList))
	for i, id := range u.DeptIDList {
		out[i].ParentDeptIDList = s.orgOf(c).depts[id].path()
	}
	return c.ok(struct {
		ParentList []parents `json:"parent_list"`
	}{out})
}
