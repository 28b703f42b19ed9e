package dingtalk

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// simMessaging is a client against a simulator whose corp has a 20-employee org.
func simMessaging(t *testing.T, app dingtalksim.App) (*Client, *dingtalksim.Server, []string) {
	t.Helper()
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg(app.CorpID, dingtalksim.OrgSpec{Seed: 3, Employees: 20})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(app); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL, QPS: 1000, MaxAttempts: 2})
	var users []string
	for _, u := range sim.Truth(app.CorpID).Users {
		users = append(users, u.UserID)
	}
	return c, sim, users
}

func TestSendTextMessageThenReadWhoGotIt(t *testing.T) {
	ctx := context.Background()
	c, sim, users := simMessaging(t, dingtalksim.App{CorpID: "corp1", AppKey: testAppKey, AppSecret: testSecret, AgentID: 77})
	content := `同步失败 <corp1> & "what to do": starter runs --corp-id corp1`
	task, err := c.SendTextMessage(ctx, testApp, TextMessage{AgentID: 77, UserIDs: []string{users[0], "gone"}, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	if got := sim.Messages("corp1", users[0]); len(got) != 1 || got[0].Content != content {
		t.Fatalf("%s received %+v", users[0], got)
	}
	res, err := c.GetSendResult(ctx, testApp, 77, task)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.UnreadUserIDs, []string{users[0]}) || !slices.Equal(res.InvalidUserIDs, []string{"gone"}) {
		t.Fatalf("send result %+v", res)
	}
	// The same content again: DingTalk says ok, delivers nothing, and getsendresult tells.
	task, err = c.SendTextMessage(ctx, testApp, TextMessage{AgentID: 77, UserIDs: []string{users[0]}, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.GetSendResult(ctx, testApp, 77, task)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Forbidden) != 1 || res.Forbidden[0].Code != ForbiddenDuplicate || res.Forbidden[0].UserID != users[0] {
		t.Fatalf("a duplicate's result %+v, want forbidden %s", res, ForbiddenDuplicate)
	}
}

func TestSendTextMessageRefusals(t *testing.T) {
	ctx := context.Background()
	c, sim, users := simMessaging(t, dingtalksim.App{CorpID: "corp1", AppKey: testAppKey, AppSecret: testSecret, AgentID: 77})
	tooMany := make([]string, MaxMessageUsers+1)
	for _, m := range []struct {
		name string
		msg  TextMessage
		kind Kind
		code string
	}{
		{"no agent", TextMessage{UserIDs: users[:1], Content: "x"}, KindInvalidRequest, ""},
		{"101 users", TextMessage{AgentID: 77, UserIDs: tooMany, Content: "x"}, KindInvalidRequest, ""},
		{"too long", TextMessage{AgentID: 77, UserIDs: users[:1], Content: strings.Repeat("长", 700)}, KindInvalidRequest, ""},
		{"another agent", TextMessage{AgentID: 78, UserIDs: users[:1], Content: "x"}, KindUnknown, "40056"},
	} {
		_, err := c.SendTextMessage(ctx, testApp, m.msg)
		if !IsKind(err, m.kind) || (m.code != "" && !hasCode(err, m.code)) {
			t.Errorf("%s: %v, want kind %s code %q", m.name, err, m.kind, m.code)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: the error carries the secret: %v", m.name, err)
		}
	}
	if got := sim.AllMessages("corp1"); len(got) != 0 {
		t.Fatalf("refused messages were delivered: %v", got)
	}

	noPerm := dingtalksim.App{CorpID: "corp1", AppKey: "bare", AppSecret: "x",
		Permissions: []string{dingtalksim.PermDepartmentRead, dingtalksim.PermUserRead}}
	if err := sim.AddApp(noPerm); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendTextMessage(ctx, App{CorpID: "corp1", AppKey: "bare", AppSecret: "x"}, TextMessage{AgentID: 1, UserIDs: users[:1], Content: "x"})
	if !IsKind(err, KindPermission) {
		t.Fatalf("an app without the message permission: %v, want a permission error", err)
	}
}

func TestForbiddenCodeIsReadAsStringOrNumber(t *testing.T) {
	for _, raw := range []string{`{"code":"143105","count":500,"userid":"u1"}`, `{"code":143105,"count":500,"userid":"u1"}`} {
		var f ForbiddenRecipient
		if err := f.UnmarshalJSON([]byte(raw)); err != nil || f.Code != ForbiddenDailyLimit || f.UserID != "u1" || f.Count != 500 {
			t.Errorf("%s: %+v, %v", raw, f, err)
		}
	}
	var f ForbiddenRecipient
	if err := f.UnmarshalJSON([]byte(`{"code":"x1","userid":"u1"}`)); err == nil {
		t.Error("a non-numeric code was accepted")
	}
}
