package dingtalk

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

func TestQueryRosterAgainstTheSimulator(t *testing.T) {
	c, app, sim := simImports(t)
	ctx := context.Background()
	users := sim.Truth("dingimportcorp").Users
	ids := []string{users[0].UserID, users[1].UserID, "nobody"}
	if err := sim.SetRosterField("dingimportcorp", ids[1], dingtalksim.RosterCertNo, "11010119900101123X"); err != nil {
		t.Fatal(err)
	}
	codes := []string{dingtalksim.RosterName, dingtalksim.RosterMainDeptID, dingtalksim.RosterCertNo, dingtalksim.RosterEmployeeType}
	got, err := c.QueryRoster(ctx, app, RosterQuery{AgentID: 1, UserIDs: ids, FieldCodes: codes})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[ids[0]][dingtalksim.RosterName] != users[0].Name ||
		got[ids[0]][dingtalksim.RosterMainDeptID] != strconv.FormatInt(users[0].DeptIDList[0], 10) ||
		got[ids[1]][dingtalksim.RosterCertNo] != "11010119900101123X" {
		t.Fatalf("roster %v", got)
	}
	truth, _ := sim.Roster("dingimportcorp", ids[0])
	for _, code := range codes {
		if got[ids[0]][code] != truth[code] {
			t.Errorf("%s = %q, the simulator holds %q (option fields give the value, not the label)", code, got[ids[0]][code], truth[code])
		}
	}
}

func TestQueryRosterRefusesBadArgumentsBeforeSending(t *testing.T) {
	c, app, sim := simImports(t)
	ctx := context.Background()
	many := strings.Split(strings.Repeat("u,", MaxRosterUsers), ",") // 101 entries
	for _, tc := range []struct {
		q   RosterQuery
		why string
	}{
		{RosterQuery{UserIDs: []string{"u"}, FieldCodes: []string{"sys00-name"}}, "starter bind --agent-id"},
		{RosterQuery{AgentID: 1, FieldCodes: []string{"sys00-name"}}, "0 userids"},
		{RosterQuery{AgentID: 1, UserIDs: many, FieldCodes: []string{"sys00-name"}}, "101 userids"},
		{RosterQuery{AgentID: 1, UserIDs: []string{"u"}, FieldCodes: many}, "101 field codes"},
		{RosterQuery{AgentID: 1, UserIDs: []string{"u"}}, "0 field codes"},
	} {
		_, err := c.QueryRoster(ctx, app, tc.q)
		if !IsKind(err, KindInvalidRequest) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%+v: %v, want an invalid request naming %q", tc.q, err, tc.why)
		}
	}
	if n := sim.Calls("dingimportcorp")[APIRosterQuery]; n != 0 {
		t.Fatalf("%d calls sent", n)
	}
}

func TestQueryRosterWithoutThePermissionNamesIt(t *testing.T) {
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg("dingnohrm", dingtalksim.OrgSpec{Seed: 5, Employees: 5})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: "dingnohrm", AppKey: testAppKey, AppSecret: testSecret,
		Permissions: []string{dingtalksim.PermUserRead}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL})
	_, err := c.QueryRoster(context.Background(), App{CorpID: "dingnohrm", AppKey: testAppKey, AppSecret: testSecret},
		RosterQuery{AgentID: 1, UserIDs: []string{"u"}, FieldCodes: []string{"sys00-name"}})
	var e *Error
	if !IsKind(err, KindPermission) || !errors.As(err, &e) || e.Permission != rosterPermission ||
		!strings.Contains(e.Hint(), rosterPermission) {
		t.Fatalf("without the roster permission: %v", err)
	}
}
