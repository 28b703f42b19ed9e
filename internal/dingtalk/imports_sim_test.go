package dingtalk

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// simImports is a client against a simulator with a 30-employee corp.
func simImports(t *testing.T) (*Client, App, *dingtalksim.Server) {
	t.Helper()
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg("dingimportcorp", dingtalksim.OrgSpec{Seed: 5, Employees: 30})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: "dingimportcorp", AppKey: testAppKey, AppSecret: testSecret}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return New(Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL}), App{CorpID: "dingimportcorp", AppKey: testAppKey, AppSecret: testSecret}, sim
}

func TestListAttendanceAgainstTheSimulatorPagesAWeek(t *testing.T) {
	c, app, sim := simImports(t)
	ctx := context.Background()
	var users []string
	for _, u := range sim.Truth("dingimportcorp").Users[:MaxAttendanceUsers-25] {
		users = append(users, u.UserID)
	}
	to := time.Now().In(chinaTime).Truncate(time.Hour).AddDate(0, 0, -2)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, chinaTime)
	from := to.AddDate(0, 0, -6)
	var got []AttendanceRecord
	for offset := int64(0); ; offset += MaxAttendancePageSize {
		page, err := c.ListAttendance(ctx, app, AttendanceQuery{WorkDateFrom: from, WorkDateTo: to, UserIDs: users, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Records...)
		if !page.HasMore {
			break
		}
	}
	want := sim.Attendance("dingimportcorp", users, from, to)
	if len(got) != len(want) || len(got) < 25*5*2 || got[0].ID != want[0].ID || got[len(got)-1].ID != want[len(want)-1].ID ||
		got[0].BaseCheckTime == 0 || got[0].SourceType == "" {
		t.Fatalf("read %d records, the simulator holds %d (first %+v)", len(got), len(want), got[0])
	}
	if _, err := c.ListAttendance(ctx, app, AttendanceQuery{WorkDateFrom: from, WorkDateTo: from.AddDate(0, 0, 8), UserIDs: users}); !IsKind(err, KindInvalidRequest) {
		t.Fatalf("an 8-day range: %v", err)
	}
}

func TestApprovalFormsIDsAndDetailsAgainstTheSimulator(t *testing.T) {
	c, app, sim := simImports(t)
	ctx := context.Background()
	page, err := c.ListApprovalProcesses(ctx, app, 0)
	if err != nil || page.NextToken != 0 || len(page.Processes) != 4 || page.Processes[0].ProcessCode != dingtalksim.ProcessLeave {
		t.Fatalf("forms %+v, %v", page, err)
	}
	var leaves []dingtalksim.ApprovalInstance
	for _, inst := range sim.ApprovalInstances("dingimportcorp") {
		if inst.ProcessCode == dingtalksim.ProcessLeave {
			leaves = append(leaves, inst)
		}
	}
	now := time.Now()
	var ids []string
	for next := int64(0); ; {
		p, err := c.QueryApprovalInstanceIDs(ctx, app, ApprovalQuery{ProcessCode: dingtalksim.ProcessLeave, Start: now.Add(-100 * 24 * time.Hour), End: now, NextToken: next, MaxResults: 3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.InstanceIDs...)
		if next = p.NextToken; next == 0 {
			break
		}
	}
	if len(ids) != len(leaves) || len(ids) == 0 {
		t.Fatalf("listed %d leave instances, the simulator holds %d", len(ids), len(leaves))
	}
	want := leaves[0]
	inst, err := c.GetApprovalInstance(ctx, app, ids[0])
	if err != nil || inst.ID != want.ID || inst.Status != want.Status || inst.OriginatorUserID != want.OriginatorUserID ||
		!inst.CreateTime.Equal(want.CreateTime.Truncate(time.Minute)) || len(inst.Raw) == 0 ||
		!slices.ContainsFunc(inst.FormValues, func(v ApprovalFormValue) bool { return v.ComponentType == dingtalksim.ComponentLeave }) {
		t.Fatalf("instance %+v, %v; want %+v", inst, err, want)
	}
	_, err = c.GetApprovalInstance(ctx, app, "no-such-instance")
	var de *Error
	if !errors.As(err, &de) || de.Kind != KindInvalidRequest || de.Code != CodeApprovalInstanceNotExist {
		t.Fatalf("unknown instance: %v", err)
	}
}
