package dingtalk

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListUsersPaging(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserList, func(w http.ResponseWriter, r *http.Request) {
		if !f.oapiAuthorized(w, r) {
			return
		}
		var p struct{ Cursor int64 }
		_ = json.Unmarshal(f.body(APIUserList), &p)
		if p.Cursor == 0 {
			oapiOK(w, map[string]any{"has_more": true, "next_cursor": 2, "list": []map[string]any{
				{"userid": "u1", "name": "张三", "dept_id_list": []int64{5, 7}, "leader": true, "hired_date": 1600000000000},
				{"userid": "u2", "name": "张三", "extension": `{"爱好":"旅游"}`, "active": true},
			}})
			return
		}
		oapiOK(w, map[string]any{"has_more": false, "list": []map[string]any{{"userid": "u3", "name": "李四"}}})
	})
	ctx := context.Background()

	page, err := c.ListUsers(ctx, testApp, 5, 0, 2)
	require.NoError(t, err)
	assert.JSONEq(t, `{"dept_id":5,"cursor":0,"size":2}`, string(f.body(APIUserList)))
	assert.True(t, page.HasMore)
	assert.Equal(t, int64(2), page.NextCursor)
	require.Len(t, page.Users, 2)
	assert.Equal(t, User{UserID: "u1", Name: "张三", DeptIDList: []int64{5, 7}, Leader: true, HiredDate: 1600000000000},
		page.Users[0])
	assert.Equal(t, `{"爱好":"旅游"}`, page.Users[1].Extension)

	page, err = c.ListUsers(ctx, testApp, 5, page.NextCursor, 2)
	require.NoError(t, err)
	assert.JSONEq(t, `{"dept_id":5,"cursor":2,"size":2}`, string(f.body(APIUserList)))
	assert.False(t, page.HasMore)
	assert.Equal(t, []User{{UserID: "u3", Name: "李四"}}, page.Users)
}

func TestListUsersPageSize(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserList, map[string]any{"has_more": false, "list": []any{}})
	ctx := context.Background()

	for _, tt := range []struct{ size, sent int }{{0, 100}, {1, 1}, {100, 100}, {500, 100}} {
		page, err := c.ListUsers(ctx, testApp, 1, 0, tt.size)
		require.NoError(t, err)
		assert.NotNil(t, page.Users)
		var p userListParams
		require.NoError(t, json.Unmarshal(f.body(APIUserList), &p))
		assert.Equal(t, tt.sent, p.Size, "size %d", tt.size)
	}

	hits := f.hitCount(APIUserList)
	for _, bad := range []struct {
		dept, cursor int64
		size         int
	}{{1, 0, -1}, {1, -1, 10}, {0, 0, 10}} {
		_, err := c.ListUsers(ctx, testApp, bad.dept, bad.cursor, bad.size)
		requireKind(t, err, KindInvalidRequest)
	}
	assert.Equal(t, hits, f.hitCount(APIUserList), "invalid arguments are refused before sending")
}

func TestGetUser(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserGet, map[string]any{
		"userid": "u1", "unionid": "un1", "name": "王五", "manager_userid": "boss", "senior": true,
		"dept_id_list":    []int64{2, 3},
		"dept_order_list": []map[string]any{{"dept_id": 2, "order": 10}},
		"leader_in_dept":  []map[string]any{{"dept_id": 3, "leader": true}},
		"role_list":       []map[string]any{{"id": 9, "name": "主管理员", "group_name": "默认"}},
		"union_emp_ext":   map[string]any{"corp_id": "ding1"},
	})
	u, err := c.GetUser(context.Background(), testApp, "u1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"userid":"u1"}`, string(f.body(APIUserGet)))
	assert.Equal(t, "u1", u.UserID)
	assert.Equal(t, "王五", u.Name)
	assert.Equal(t, "boss", u.ManagerUserID)
	assert.True(t, u.Senior)
	assert.Equal(t, []int64{2, 3}, u.DeptIDList)
	assert.Equal(t, []DeptOrder{{DeptID: 2, Order: 10}}, u.DeptOrderList)
	assert.Equal(t, []LeaderInDept{{DeptID: 3, Leader: true}}, u.LeaderInDept)
	assert.Equal(t, []Role{{ID: 9, Name: "主管理员", GroupName: "默认"}}, u.RoleList)

	_, err = c.GetUser(context.Background(), testApp, "")
	requireKind(t, err, KindInvalidRequest)
}

func TestListUserIDsAndCount(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserListID, map[string]any{"userid_list": []string{"a", "b"}})
	f.oapi(APIUserCount, map[string]any{"count": 1234})
	ctx := context.Background()

	ids, err := c.ListUserIDs(ctx, testApp, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids)
	assert.JSONEq(t, `{"dept_id":3}`, string(f.body(APIUserListID)))

	n, err := c.CountUsers(ctx, testApp, false)
	require.NoError(t, err)
	assert.Equal(t, int64(1234), n)
	assert.JSONEq(t, `{"only_active":false}`, string(f.body(APIUserCount)))
}
