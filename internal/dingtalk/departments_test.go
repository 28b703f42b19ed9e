package dingtalk

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDepartments(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIDepartmentListSub, []map[string]any{
		{"dept_id": 2, "name": "研发部", "parent_id": 1, "create_dept_group": true, "auto_add_user": true},
		{"dept_id": 3, "name": "市场部", "parent_id": 1},
	})
	f.oapi(APIDepartmentSubIDs, map[string]any{"dept_id_list": []int64{2, 3}})
	f.oapi(APIDepartmentGet, map[string]any{
		"dept_id": 2, "name": "研发部", "parent_id": 1, "order": 5, "member_count": 40, "owning_member_count": 12,
		"dept_manager_userid_list": []string{"m1"}, "org_dept_owner": "m1", "hide_dept": true,
		"union_dept_ext": map[string]any{"deptId": 9, "corpId": "x"},
	})
	ctx := context.Background()

	subs, err := c.ListSubDepartments(ctx, testApp, RootDepartmentID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"dept_id":1}`, string(f.body(APIDepartmentListSub)))
	assert.Equal(t, []Department{
		{ID: 2, Name: "研发部", ParentID: 1, CreateDeptGroup: true, AutoAddUser: true},
		{ID: 3, Name: "市场部", ParentID: 1},
	}, subs)

	ids, err := c.ListSubDepartmentIDs(ctx, testApp, RootDepartmentID)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 3}, ids)

	d, err := c.GetDepartment(ctx, testApp, 2)
	require.NoError(t, err)
	assert.JSONEq(t, `{"dept_id":2}`, string(f.body(APIDepartmentGet)))
	assert.Equal(t, DepartmentDetail{ID: 2, Name: "研发部", ParentID: 1, Order: 5, MemberCount: 40, OwningMemberCount: 12,
		DeptManagerUserIDs: []string{"m1"}, OrgDeptOwner: "m1", HideDept: true}, d)

	_, err = c.GetDepartment(ctx, testApp, 0)
	requireKind(t, err, KindInvalidRequest)
}

func TestEmptyDepartmentLevel(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIDepartmentListSub, []any{})
	subs, err := c.ListSubDepartments(context.Background(), testApp, 7)
	require.NoError(t, err)
	assert.Empty(t, subs)
}

func TestDeletedDepartmentIsNotFound(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIDepartmentGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60003, "部门不存在") })
	_, err := c.GetDepartment(context.Background(), testApp, 99)
	assert.True(t, IsKind(err, KindNotFound))
	assert.Contains(t, KindNotFound.Hint(), "removed")
}

func TestListLeaveRecords(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"nextToken": "n2",
			"records":   []map[string]any{{"userId": "u9", "name": "赵六", "leaveTime": "2026-01-02T03:04Z", "leaveReason": "leave"}},
		})
	})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	page, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: start, NextToken: "n1"})
	require.NoError(t, err)
	assert.Equal(t, LeaveRecordPage{NextToken: "n2", Records: []LeaveRecord{
		{UserID: "u9", Name: "赵六", LeaveTime: "2026-01-02T03:04Z", LeaveReason: "leave"}}}, page)

	r := f.request(APIEmpLeaveRecords)
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, url.Values{"startTime": {"2026-01-01T00:00:00Z"}, "maxResults": {"50"}, "nextToken": {"n1"}},
		r.URL.Query())

	_, err = c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: start, MaxResults: 51})
	requireKind(t, err, KindInvalidRequest)
}
