package activities_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
)

// storeApprovalEvent stores the bpms_instance_change push the simulator recorded last, parsed
// as the receiver parses it, and returns its event id.
func (f *importFixture) storeApprovalEvent() string {
	f.t.Helper()
	evs := f.sim.Events(importCorp)
	last := evs[len(evs)-1]
	payload, err := json.Marshal(map[string]any{"EventType": last.Type, "corpId": importCorp, "eventId": last.ID,
		"processInstanceId": last.Approval.InstanceID, "processCode": last.Approval.ProcessCode, "type": last.Approval.Type,
		"result": last.Approval.Result, "createTime": last.Approval.CreateTime, "finishTime": last.Approval.FinishTime})
	if err != nil {
		f.t.Fatal(err)
	}
	ev, err := callback.ParseEvent(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	if ok, err := f.st.InsertEvent(context.Background(), activities.InboxEvent(importCorp, ev, store.EventIntakeHTTP)); err != nil || !ok {
		f.t.Fatalf("store event: %v, inserted %v", err, ok)
	}
	return ev.ID
}

// approvalRefs runs Incremental.ApprovalRefs on the batch.
func (f *importFixture) approvalRefs(ids ...string) activities.ApprovalRefsResult {
	f.t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	inc := &activities.Incremental{Store: f.st}
	env.RegisterActivity(inc)
	v, err := env.ExecuteActivity(inc.ApprovalRefs, activities.ApprovalRefsInput{CorpID: importCorp, EventIDs: ids})
	if err != nil {
		f.t.Fatal(err)
	}
	var res activities.ApprovalRefsResult
	if err := v.Get(&res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func TestAnApprovalDecidedInDingTalkReachesTheStoreThroughItsEvent(t *testing.T) {
	f := newImportFixture(t, 20)
	ctx := context.Background()
	users := f.sim.Truth(importCorp).Users
	inst, err := f.sim.AddApprovalInstance(importCorp, dingtalksim.ApprovalInstance{ProcessCode: dingtalksim.ProcessLeave,
		OriginatorUserID: users[0].UserID, FormValues: dingtalksim.LeaveForm("年假", time.Now(), time.Now(), 1, "day")})
	if err != nil {
		t.Fatal(err)
	}
	started := f.storeApprovalEvent()
	if _, err := f.sim.SetApprovalStatus(importCorp, inst.ID, dingtalksim.ApprovalCompleted, dingtalksim.ResultAgree); err != nil {
		t.Fatal(err)
	}
	decided := f.storeApprovalEvent()

	// The inbox keeps the instance each event names; the batch names it once.
	events, err := f.st.EventsByID(ctx, importCorp, []string{started, decided})
	want := store.ApprovalRefs{{InstanceID: inst.ID, ProcessCode: dingtalksim.ProcessLeave}}
	if err != nil || len(events) != 2 || !slices.Equal(events[0].Instances, want) || !slices.Equal(events[1].Instances, want) {
		t.Fatalf("inbox events %+v, %v", events, err)
	}
	refs := f.approvalRefs(started, decided)
	if len(refs.Instances) != 1 || refs.Instances[0] != (activities.ApprovalRef{InstanceID: inst.ID, ProcessCode: dingtalksim.ProcessLeave}) {
		t.Fatalf("refs %+v, want the one instance", refs)
	}

	// The re-read stores the decision: no import ran (no watermark moved).
	c := f.run(f.imp.RefreshOpenApprovals, activities.RefreshApprovalsInput{CorpID: importCorp, Instances: refs.Instances}, nil)
	statuses, err := f.st.ApprovalStatuses(ctx, importCorp, []string{inst.ID})
	if err != nil || c.Fetched != 1 || c.Inserted != 1 || c.Leaves != 1 || c.APICalls == 0 || statuses[inst.ID] != "COMPLETED" {
		t.Fatalf("refresh %+v, statuses %v, %v", c, statuses, err)
	}
	if n := f.count(`SELECT count(*) FROM leave_requests WHERE corp_id = '` + importCorp + `' AND approved`); n != 1 {
		t.Fatalf("%d approved leave requests, want the decided one", n)
	}
	if n := f.count(`SELECT count(*) FROM import_watermarks WHERE watermark IS NOT NULL`); n != 0 {
		t.Fatal("an import watermark moved")
	}

	// A corp whose import schedule is off does not spend API calls on its approval events.
	off := schedules.Off
	if err := f.st.UpdateScheduleSettings(ctx, importCorp, "test", store.ScheduleSettings{ImportCron: &off}); err != nil {
		t.Fatal(err)
	}
	if refs := f.approvalRefs(started, decided); len(refs.Instances) != 0 || refs.Ignored != 1 {
		t.Fatalf("refs %+v with the import schedule off", refs)
	}
}

func TestEventTagsSubscribeToApprovalsOnlyWhenTheyAreImported(t *testing.T) {
	b := store.Binding{CorpID: "dingcorp"}
	if tags := activities.EventTags(b); !slices.Contains(tags, callback.EventApprovalChange) || !slices.Contains(tags, "user_add_org") {
		t.Fatalf("default import schedule: tags %v", tags)
	}
	b.Permissions = store.PermissionList{{Permission: "qyapi_process_read", Granted: false}}
	if tags := activities.EventTags(b); slices.Contains(tags, callback.EventApprovalChange) {
		t.Fatalf("the app lacks the approvals permission: tags %v", tags)
	}
	b.Permissions, b.ImportCron = nil, schedules.Off
	if tags := activities.EventTags(b); slices.Contains(tags, callback.EventApprovalChange) || len(tags) != len(activities.ContactEventTags) {
		t.Fatalf("import schedule off: tags %v", tags)
	}
}
