package dingtalk

import (
	"context"
	"errors"
)

type deptParams struct {
	DeptID int64 `json:"dept_id"`
}

// ListSubDepartments returns the direct children of department deptID (one level, not
// recursive; RootDepartmentID for the top level).
func (c *Client) ListSubDepartments(ctx context.Context, app App, deptID int64) ([]Department, error) {
	if deptID < 1 {
		return nil, invalidArgument(APIDepartmentListSub, "invalid department id %d", deptID)
	}
	return oapiCall(ctx, c, app, APIDepartmentListSub, deptParams{deptID}, func(depts *[]Department) error {
		for _, d := range *depts {
			if d.ID < 1 {
				return errors.New("department without dept_id")
			}
		}
		return nil
	})
}

type deptIDList struct {
	DeptIDs *[]int64 `json:"dept_id_list"`
}

// ListSubDepartmentIDs returns the ids of the direct children of department deptID. Unlike
// ListSubDepartments it is not restricted by the app's contact scope.
func (c *Client) ListSubDepartmentIDs(ctx context.Context, app App, deptID int64) ([]int64, error) {
	if deptID < 1 {
		return nil, invalidArgument(APIDepartmentSubIDs, "invalid department id %d", deptID)
	}
	res, err := oapiCall(ctx, c, app, APIDepartmentSubIDs, deptParams{deptID}, func(r *deptIDList) error {
		if r.DeptIDs == nil {
			return errors.New("no dept_id_list")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return *res.DeptIDs, nil
}

// GetDepartment returns the details of department deptID; a deleted one is KindNotFound.
func (c *Client) GetDepartment(ctx context.Context, app App, deptID int64) (DepartmentDetail, error) {
	if deptID < 1 {
		return DepartmentDetail{}, invalidArgument(APIDepartmentGet, "invalid department id %d", deptID)
	}
	return oapiCall(ctx, c, app, APIDepartmentGet, deptParams{deptID}, func(d *DepartmentDetail) error {
		if d.ID < 1 {
			return errors.New("department without dept_id")
		}
		return nil
	})
}
