package dingtalk

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

func TestCreateDepartmentSendsOnlyPresentFields(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIDepartmentCreate, map[string]any{"dept_id": 77})

	id, err := c.CreateDepartment(context.Background(), testApp, DepartmentWrite{
		Name: new("研发部"), ParentID: RootDepartmentID, Order: new(int64(0)), HideDept: new(false),
		SourceIdentifier: new("ehr-D1"),
	})
	require.NoError(t, err)
	assert.Equal(t, int64(77), id)
	assert.JSONEq(t, `{"name":"研发部","parent_id":1,"order":0,"hide_dept":false,"source_identifier":"ehr-D1"}`,
		string(f.body(APIDepartmentCreate)))
}

func TestCreateDepartmentWithoutDeptIDInTheAnswerIsMalformed(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
	f.oapi(APIDepartmentCreate, map[string]any{})
	_, err := c.CreateDepartment(context.Background(), testApp, DepartmentWrite{Name: new("研发部"), ParentID: 1})
	assert.Equal(t, CodeMalformedResponse, requireKind(t, err, KindTransient).Code)
}

func TestUpdateDepartmentSendsOnlyPresentFields(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	ctx := context.Background()
	// DingTalk's answer has no result.
	f.route(APIDepartmentUpdate, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "request_id": "req-ok"})
		}
	})

	require.NoError(t, c.UpdateDepartment(ctx, testApp, DepartmentWrite{ID: 42, Name: new("平台部")}))
	assert.JSONEq(t, `{"dept_id":42,"name":"平台部"}`, string(f.body(APIDepartmentUpdate)))

	require.NoError(t, c.UpdateDepartment(ctx, testApp, DepartmentWrite{ID: 42, ParentID: 7, SourceIdentifier: new("")}))
	assert.JSONEq(t, `{"dept_id":42,"parent_id":7,"source_identifier":""}`, string(f.body(APIDepartmentUpdate)))
}

func TestDepartmentWritesRefusedLocally(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	ctx := context.Background()
	creates := []struct {
		d     DepartmentWrite
		field string
	}{
		{DepartmentWrite{ParentID: 1}, "name"},
		{DepartmentWrite{Name: new("研发部")}, "parent_id"},
		{DepartmentWrite{Name: new("研发部"), ParentID: -3}, "parent_id"},
		{DepartmentWrite{ID: 5, Name: new("研发部"), ParentID: 1}, "dept_id"},
		{DepartmentWrite{Name: new(""), ParentID: 1}, "name"},
		{DepartmentWrite{Name: new(strings.Repeat("部", MaxDepartmentNameLength+1)), ParentID: 1}, "name"},
		{DepartmentWrite{Name: new("研发-一部"), ParentID: 1}, "name"},
		{DepartmentWrite{Name: new("研发,一部"), ParentID: 1}, "name"},
		{DepartmentWrite{Name: new("研发，一部"), ParentID: 1}, "name"},
	}
	for _, tt := range creates {
		_, err := c.CreateDepartment(ctx, testApp, tt.d)
		assert.Contains(t, requireKind(t, err, KindInvalidRequest).Message, tt.field)
	}
	updates := []struct {
		d     DepartmentWrite
		field string
	}{
		{DepartmentWrite{Name: new("x")}, "dept_id"},
		{DepartmentWrite{ID: 9, ParentID: 9}, "parent_id"},
		{DepartmentWrite{ID: 9, Name: new("")}, "name"},
	}
	for _, tt := range updates {
		err := c.UpdateDepartment(ctx, testApp, tt.d)
		assert.Contains(t, requireKind(t, err, KindInvalidRequest).Message, tt.field)
	}
	assert.Zero(t, f.hitCount(APIDepartmentCreate)+f.hitCount(APIDepartmentUpdate), "invalid writes are refused before sending")
	assert.NoError(t, checkDepartmentName(APIDepartmentCreate, strings.Repeat("𠮷", MaxDepartmentNameLength)),
		"characters are counted, not bytes")
}

func TestDepartmentWriteErrorsAreNotRetriedAndNameTheFix(t *testing.T) {
	tests := []struct {
		code             int
		api              string
		kind             Kind
		nameTaken        bool
		hint, permission string
	}{
		{60008, APIDepartmentCreate, KindInvalidRequest, true, "FindChildDepartment", ""},
		{60008, APIDepartmentUpdate, KindInvalidRequest, true, "rename one of them", ""},
		{60004, APIDepartmentCreate, KindNotFound, false, "create or re-map the parent", ""},
		{60001, APIDepartmentCreate, KindInvalidRequest, false, "rename the department in the eHR record", ""},
		{60009, APIDepartmentUpdate, KindInvalidRequest, false, "rename the department in the eHR record", ""},
		{60002, APIDepartmentCreate, KindInvalidRequest, false, "move it higher", ""},
		{60010, APIDepartmentUpdate, KindInvalidRequest, false, "own sub-departments", ""},
		{60018, APIDepartmentUpdate, KindInvalidRequest, false, "admin console", ""},
		{60003, APIDepartmentUpdate, KindNotFound, false, "treat it as removed", ""},
		{60011, APIDepartmentCreate, KindPermission, false, "qyapi_manage_addresslist", "qyapi_manage_addresslist"},
		{60011, APIDepartmentUpdate, KindPermission, false, "qyapi_manage_addresslist", "qyapi_manage_addresslist"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.api, " ", tt.code), func(t *testing.T) {
			err := refusedWrite(t, tt.api, tt.code, func(c *Client) (err error) {
				if tt.api == APIDepartmentCreate {
					_, err = c.CreateDepartment(context.Background(), testApp, DepartmentWrite{Name: new("研发部"), ParentID: 3})
					return err
				}
				return c.UpdateDepartment(context.Background(), testApp, DepartmentWrite{ID: 5, Name: new("研发部")})
			})
			e := requireKind(t, err, tt.kind)
			assert.Equal(t, tt.nameTaken, IsDeptNameTaken(fmt.Errorf("push department 5: %w", err)))
			assert.Contains(t, e.Hint(), tt.hint)
			assert.Equal(t, tt.permission, e.Permission)
		})
	}
	assert.False(t, IsDeptNameTaken(nil))
	assert.False(t, IsDeptNameTaken(fmt.Errorf("plain")))
}

func TestDepartmentWritesAgainstTheSimulator(t *testing.T) {
	sim := dingtalksim.New(dingtalksim.Options{})
	require.NoError(t, sim.LoadOrg(dingtalksim.GenerateOrg("dingdeptcorp", dingtalksim.OrgSpec{Seed: 9, Employees: 60})))
	require.NoError(t, sim.AddApp(dingtalksim.App{CorpID: "dingdeptcorp", AppKey: testAppKey, AppSecret: testSecret}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL, MaxAttempts: 1})
	app := App{CorpID: "dingdeptcorp", AppKey: testAppKey, AppSecret: testSecret}
	ctx := context.Background()

	parent, err := c.CreateDepartment(ctx, app, DepartmentWrite{Name: new("数据中心"), ParentID: RootDepartmentID,
		SourceIdentifier: new("ehr-D100")})
	require.NoError(t, err)
	child, err := c.CreateDepartment(ctx, app, DepartmentWrite{Name: new("数据平台组"), ParentID: parent})
	require.NoError(t, err)

	// A retried create meets the department the first attempt made and adopts it.
	_, err = c.CreateDepartment(ctx, app, DepartmentWrite{Name: new("数据平台组"), ParentID: parent})
	require.True(t, IsDeptNameTaken(err), "%v", err)
	found, ok, err := c.FindChildDepartment(ctx, app, parent, "数据平台组")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, child, found)
	_, ok, err = c.FindChildDepartment(ctx, app, parent, "没有这个部门")
	require.NoError(t, err)
	assert.False(t, ok)

	// Rename and move to the top level; the other fields stay.
	require.NoError(t, c.UpdateDepartment(ctx, app, DepartmentWrite{ID: child, Name: new("数据平台部"), ParentID: RootDepartmentID}))
	got, err := c.GetDepartment(ctx, app, child)
	require.NoError(t, err)
	assert.Equal(t, []any{"数据平台部", RootDepartmentID}, []any{got.Name, got.ParentID})
	got, err = c.GetDepartment(ctx, app, parent)
	require.NoError(t, err)
	assert.Equal(t, []any{"数据中心", "ehr-D100"}, []any{got.Name, got.SourceIdentifier})

	grandchild, err := c.CreateDepartment(ctx, app, DepartmentWrite{Name: new("数据治理组"), ParentID: parent})
	require.NoError(t, err)
	e := requireKind(t, c.UpdateDepartment(ctx, app, DepartmentWrite{ID: parent, ParentID: grandchild}), KindInvalidRequest)
	assert.Equal(t, "60010", e.Code)
	_, err = c.CreateDepartment(ctx, app, DepartmentWrite{Name: new("孤儿部门"), ParentID: 999999})
	assert.Equal(t, "60004", requireKind(t, err, KindNotFound).Code)
	requireKind(t, c.UpdateDepartment(ctx, app, DepartmentWrite{ID: 999999, Name: new("x")}), KindNotFound)
	err = c.UpdateDepartment(ctx, app, DepartmentWrite{ID: RootDepartmentID, Name: new("新公司名")})
	assert.Equal(t, "60018", requireKind(t, err, KindInvalidRequest).Code)

	calls := sim.Calls("dingdeptcorp")
	assert.Equal(t, int64(5), calls[APIDepartmentCreate])
	assert.Equal(t, int64(4), calls[APIDepartmentUpdate])
}
