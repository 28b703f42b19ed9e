package dingtalk

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"
)

// The department write APIs, which push eHR-owned departments to DingTalk. They need the
// same permission as the user writes (userWritePermission); DingTalk answers each with the
// contact event a console change would push (org_dept_create, org_dept_modify).
const (
	// APIDepartmentCreate adds a department under a parent.
	APIDepartmentCreate = "/topapi/v2/department/create"
	// APIDepartmentUpdate renames, reorders or moves a department, or changes its settings.
	APIDepartmentUpdate = "/topapi/v2/department/update"
)

// MaxDepartmentNameLength is the longest department name, in characters, DingTalk accepts.
const MaxDepartmentNameLength = 64

// deptNameForbidden are the characters DingTalk refuses in a department name: '-', ',' and
// the full-width '，'.
const deptNameForbidden = "-,，"

// codeDeptNameTaken is DingTalk's errcode refusing a name a sibling has (父部门下该部门名称已存在).
const codeDeptNameTaken = "60008"

// Hints of the department write errcodes (DingTalk's global error code list), in codeClasses.
const (
	hintDeptName = "DingTalk refuses this department name (1..64 characters, no '-', ',' or '，'): " +
		"rename the department in the eHR record, then re-run"
	hintDeptDepth = "the department would be nested deeper than DingTalk allows: " +
		"move it higher in the eHR record, then re-run"
	hintParentMissing = "the parent department does not exist in DingTalk (deleted, or not created yet): " +
		"create or re-map the parent first, then re-run"
	hintDeptNameTaken = "another department under the same parent already has this name: if an earlier " +
		"attempt created it, adopt it (FindChildDepartment); else rename one of them, then re-run"
	hintDeptCycle = "a department cannot move under itself or one of its own sub-departments: " +
		"fix the parent in the eHR record, then re-run"
	hintRootDept = "the root department cannot be changed through the API: change it in the DingTalk " +
		"admin console, or leave it out of the write-back"
)

// DepartmentWrite is a department's fields as department/create and department/update take
// them. Only fields that are set are sent: update leaves the others unchanged.
type DepartmentWrite struct {
	// ID names the department to update; create requires it to be 0 (DingTalk assigns it).
	ID int64 `json:"dept_id,omitempty"`
	// Name (1..MaxDepartmentNameLength characters, none of '-', ',' and '，') is required
	// by create.
	Name *string `json:"name,omitempty"`
	// ParentID is required by create (RootDepartmentID for the top level); on update a
	// non-zero ParentID moves the department with its subtree, 0 keeps it where it is.
	ParentID int64 `json:"parent_id,omitempty"`
	// Order is the department's place among its siblings (smaller first).
	Order *int64 `json:"order,omitempty"`
	// SourceIdentifier is a free-form key mapping the department to an external system.
	SourceIdentifier *string `json:"source_identifier,omitempty"`
	// CreateDeptGroup asks DingTalk to create the department's group chat.
	CreateDeptGroup *bool `json:"create_dept_group,omitempty"`
	// HideDept hides the department from the org's contacts.
	HideDept *bool `json:"hide_dept,omitempty"`
	// OuterDept restricts what the department's members see of the contacts.
	OuterDept *bool `json:"outer_dept,omitempty"`
}

// checkDepartmentWrite refuses, before sending, a write DingTalk would reject as invalid.
func checkDepartmentWrite(api string, d DepartmentWrite, create bool) error {
	switch {
	case create && d.ID != 0:
		return invalidArgument(api, "dept_id %d set: DingTalk assigns the id of a new department", d.ID)
	case !create && d.ID < 1:
		return invalidArgument(api, "no dept_id: name the DingTalk department to update")
	case create && d.Name == nil:
		return invalidArgument(api, "no name: DingTalk needs one to create a department; fill it in the eHR record")
	case create && d.ParentID == 0:
		return invalidArgument(api, "no parent_id: DingTalk needs the parent department (%d for the top level)",
			RootDepartmentID)
	case d.ParentID < 0:
		return invalidArgument(api, "invalid parent_id %d", d.ParentID)
	case !create && d.ParentID == d.ID:
		return invalidArgument(api, "parent_id %d is the department itself: a department cannot be its own parent",
			d.ParentID)
	case d.Name != nil:
		return checkDepartmentName(api, *d.Name)
	}
	return nil
}

// checkDepartmentName applies DingTalk's rule for department names.
func checkDepartmentName(api, name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return invalidArgument(api, "empty name: DingTalk requires one; fill it in the eHR record")
	case n > MaxDepartmentNameLength:
		return invalidArgument(api, "name of %d characters, DingTalk allows %d: shorten it in the eHR record",
			n, MaxDepartmentNameLength)
	case strings.ContainsAny(name, deptNameForbidden):
		return invalidArgument(api, "name %q contains '-', ',' or '，', which DingTalk refuses: rename it in the eHR record",
			name)
	}
	return nil
}

type deptCreateResult struct {
	DeptID int64 `json:"dept_id"`
}

// CreateDepartment adds department d under d.ParentID in app's org and returns the id
// DingTalk assigned. A name a sibling already has fails IsDeptNameTaken, an unknown parent
// KindNotFound. The client retries transient failures, so a retry after a lost answer may
// meet the department it created: on IsDeptNameTaken, FindChildDepartment finds it.
func (c *Client) CreateDepartment(ctx context.Context, app App, d DepartmentWrite) (int64, error) {
	if err := checkDepartmentWrite(APIDepartmentCreate, d, true); err != nil {
		return 0, err
	}
	res, err := oapiCall(ctx, c, app, APIDepartmentCreate, d, func(r *deptCreateResult) error {
		if r.DeptID < 1 {
			return errors.New("no dept_id")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return res.DeptID, nil
}

// UpdateDepartment changes the fields set in d of department d.ID. An unknown department
// or parent is KindNotFound; a name a sibling has fails IsDeptNameTaken; moving a
// department under its own subtree, or changing the root department, is KindInvalidRequest.
func (c *Client) UpdateDepartment(ctx context.Context, app App, d DepartmentWrite) error {
	if err := checkDepartmentWrite(APIDepartmentUpdate, d, false); err != nil {
		return err
	}
	// topLevel: the answer carries nothing beside errcode, and its result may be absent.
	spec := oapiSpec{api: APIDepartmentUpdate, topLevel: true}
	_, err := oapiDo(ctx, c, app, spec, d, noCheck[struct{}])
	return err
}

// IsDeptNameTaken reports whether err is DingTalk refusing a department name that a
// sibling under the same parent already has (60008).
func IsDeptNameTaken(err error) bool { return hasCode(err, codeDeptNameTaken) }

// FindChildDepartment looks for the direct child of parentID named name (DingTalk keeps
// sibling names unique), to make CreateDepartment idempotent: after IsDeptNameTaken, the
// department found is the one an earlier attempt created, or one to adopt. It reads one
// level with ListSubDepartments, so it sees only departments in the app's contact scope.
func (c *Client) FindChildDepartment(ctx context.Context, app App, parentID int64, name string) (int64, bool, error) {
	children, err := c.ListSubDepartments(ctx, app, parentID)
	if err != nil {
		return 0, false, err
	}
	for _, d := range children {
		if d.Name == name {
			return d.ID, true, nil
		}
	}
	return 0, false, nil
}
