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

func TestCreateUserSendsOnlyPresentFields(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserCreate, map[string]any{"userid": "gen123"})

	id, err := c.CreateUser(context.Background(), testApp, UserWrite{
		Name: new("张三"), Mobile: new("13800000000"), Title: new(""), HiredDate: new(int64(1700000000000)),
		DeptIDs: []int64{1, 22}, Extension: map[string]string{"爱好": "旅游"},
	})
	require.NoError(t, err)
	assert.Equal(t, "gen123", id)
	assert.JSONEq(t, `{"name":"张三","mobile":"13800000000","title":"","hired_date":1700000000000,
		"dept_id_list":"1,22","extension":"{\"爱好\":\"旅游\"}"}`, string(f.body(APIUserCreate)))
}

func TestCreateUserWithoutUseridInTheAnswerIsMalformed(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
	f.oapi(APIUserCreate, map[string]any{})
	_, err := c.CreateUser(context.Background(), testApp, UserWrite{Name: new("张三"), Mobile: new("1"), DeptIDs: []int64{1}})
	assert.Equal(t, CodeMalformedResponse, requireKind(t, err, KindTransient).Code)
}

func TestUpdateUserSendsOnlyPresentFields(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	ctx := context.Background()
	// DingTalk's answer may have no result at all.
	f.route(APIUserUpdate, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "request_id": "req-ok"})
		}
	})

	require.NoError(t, c.UpdateUser(ctx, testApp, UserWrite{UserID: "u1", Mobile: new("13900000000")}))
	assert.JSONEq(t, `{"userid":"u1","mobile":"13900000000"}`, string(f.body(APIUserUpdate)))

	require.NoError(t, c.UpdateUser(ctx, testApp, UserWrite{UserID: "u1", Remark: new(""), Extension: map[string]string{}}))
	assert.JSONEq(t, `{"userid":"u1","remark":"","extension":"{}"}`, string(f.body(APIUserUpdate)))
}

func TestUserWritesRefusedLocally(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	ctx := context.Background()
	valid := UserWrite{Name: new("张三"), Mobile: new("13800000000"), DeptIDs: []int64{1}}
	with := func(change func(*UserWrite)) UserWrite {
		u := valid
		change(&u)
		return u
	}
	creates := []struct {
		u     UserWrite
		field string
	}{
		{with(func(u *UserWrite) { u.Name = nil }), "name"},
		{with(func(u *UserWrite) { u.Name = new("") }), "name"},
		{with(func(u *UserWrite) { u.Name = new(strings.Repeat("名", MaxUserNameLength+1)) }), "name"},
		{with(func(u *UserWrite) { u.Mobile = nil }), "mobile"},
		{with(func(u *UserWrite) { u.Mobile = new("") }), "mobile"},
		{with(func(u *UserWrite) { u.DeptIDs = nil }), "dept_id_list"},
		{with(func(u *UserWrite) { u.DeptIDs = []int64{1, 0} }), "dept_id_list"},
	}
	for _, tt := range creates {
		_, err := c.CreateUser(ctx, testApp, tt.u)
		assert.Contains(t, requireKind(t, err, KindInvalidRequest).Message, tt.field)
	}
	updates := []struct {
		u     UserWrite
		field string
	}{
		{UserWrite{Title: new("x")}, "userid"},
		{UserWrite{UserID: "u1", Name: new("")}, "name"},
		{UserWrite{UserID: "u1", Mobile: new("")}, "mobile"},
		{UserWrite{UserID: "u1", DeptIDs: []int64{}}, "dept_id_list"},
	}
	for _, tt := range updates {
		err := c.UpdateUser(ctx, testApp, tt.u)
		assert.Contains(t, requireKind(t, err, KindInvalidRequest).Message, tt.field)
	}
	assert.Zero(t, f.hitCount(APIUserCreate)+f.hitCount(APIUserUpdate), "invalid writes are refused before sending")
}

// refusedWrite has the fake answer api with DingTalk errcode code, returns the error call
// gets, and checks the refusal was not retried.
func refusedWrite(t *testing.T, api string, code int, call func(*Client) error) error {
	t.Helper()
	f := newFake(t)
	f.route(api, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, code, "msg") })
	err := call(newTestClient(f, nil))
	assert.Equal(t, 1, f.hitCount(api), "not retried")
	return err
}

func TestUserWriteClashesAreNotRetriedAndRecognisable(t *testing.T) {
	tests := []struct {
		code             int
		api              string
		kind             Kind
		mobile, userID   bool
		hint, permission string
	}{
		{60104, APIUserCreate, KindInvalidRequest, true, false, "mobile in the eHR record", ""},
		{60104, APIUserUpdate, KindInvalidRequest, true, false, "mobile in the eHR record", ""},
		{60102, APIUserCreate, KindInvalidRequest, false, true, "userid", ""},
		{60121, APIUserUpdate, KindNotFound, false, false, "treat it as removed", ""},
		{60003, APIUserCreate, KindNotFound, false, false, "", ""},
		{60011, APIUserUpdate, KindPermission, false, false, "qyapi_manage_addresslist", "qyapi_manage_addresslist"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.api, " ", tt.code), func(t *testing.T) {
			err := refusedWrite(t, tt.api, tt.code, func(c *Client) (err error) {
				if tt.api == APIUserCreate {
					_, err = c.CreateUser(context.Background(), testApp, UserWrite{UserID: "u1", Name: new("张三"), Mobile: new("1"), DeptIDs: []int64{1}})
					return err
				}
				return c.UpdateUser(context.Background(), testApp, UserWrite{UserID: "u1", Mobile: new("1")})
			})
			e := requireKind(t, err, tt.kind)
			wrapped := fmt.Errorf("push user u1: %w", err)
			assert.Equal(t, tt.mobile, IsMobileTaken(wrapped))
			assert.Equal(t, tt.userID, IsUserIDTaken(wrapped))
			assert.Contains(t, e.Hint(), tt.hint)
			assert.Equal(t, tt.permission, e.Permission)
		})
	}
	assert.False(t, IsMobileTaken(nil))
	assert.False(t, IsUserIDTaken(fmt.Errorf("plain")))
}

func TestUserWritesAgainstTheSimulator(t *testing.T) {
	sim := dingtalksim.New(dingtalksim.Options{})
	require.NoError(t, sim.LoadOrg(dingtalksim.GenerateOrg("dingwritecorp", dingtalksim.OrgSpec{Seed: 9, Employees: 20})))
	require.NoError(t, sim.AddApp(dingtalksim.App{CorpID: "dingwritecorp", AppKey: testAppKey, AppSecret: testSecret}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL, MaxAttempts: 1})
	app := App{CorpID: "dingwritecorp", AppKey: testAppKey, AppSecret: testSecret}
	ctx := context.Background()
	truth := sim.Truth("dingwritecorp")
	dept := RootDepartmentID

	id, err := c.CreateUser(ctx, app, UserWrite{Name: new("李雷"), Mobile: new("13987654321"), DeptIDs: []int64{dept},
		JobNumber: new("E9001"), Extension: map[string]string{"工位": "B-2-03"}})
	require.NoError(t, err)
	require.NoError(t, c.UpdateUser(ctx, app, UserWrite{UserID: id, Title: new("架构师")}))
	got, err := c.GetUser(ctx, app, id)
	require.NoError(t, err)
	assert.Equal(t, []any{"李雷", "13987654321", "E9001", "架构师", []int64{dept}, `{"工位":"B-2-03"}`},
		[]any{got.Name, got.Mobile, got.JobNumber, got.Title, got.DeptIDList, got.Extension})

	_, err = c.CreateUser(ctx, app, UserWrite{Name: new("韩梅梅"), Mobile: new("13987654321"), DeptIDs: []int64{dept}})
	assert.True(t, IsMobileTaken(err), "%v", err)
	_, err = c.CreateUser(ctx, app, UserWrite{UserID: id, Name: new("韩梅梅"), Mobile: new("13900000002"), DeptIDs: []int64{dept}})
	assert.True(t, IsUserIDTaken(err), "%v", err)
	err = c.UpdateUser(ctx, app, UserWrite{UserID: truth.Users[0].UserID, Mobile: new("13987654321")})
	assert.True(t, IsMobileTaken(err), "%v", err)
	requireKind(t, c.UpdateUser(ctx, app, UserWrite{UserID: "nobody", Title: new("x")}), KindNotFound)

	calls := sim.Calls("dingwritecorp")
	assert.Equal(t, int64(3), calls[APIUserCreate])
	assert.Equal(t, int64(3), calls[APIUserUpdate])
}
