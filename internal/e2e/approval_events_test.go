package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// waitApproval waits until the HR store holds instance id with status and result.
func (h *harness) waitApproval(id, status, result string, timeout time.Duration) {
	h.t.Helper()
	waitFor(h.t, timeout, func() bool {
		return h.count(`SELECT count(*) FROM approval_instances WHERE corp_id = $1 AND instance_id = $2 AND status = $3 AND result = $4`,
			h.corpID, id, status, result) == 1
	})
}

// approvalEventsReachTheStore starts a leave request in DingTalk and decides it, and checks
// that each change reaches approval_instances (and leave_requests) through its event alone.
func (h *harness) approvalEventsReachTheStore(source string) {
	h.t.Helper()
	user := h.truth().Users[0].UserID
	day := beijingDay(3)
	inst, err := h.sim.AddApprovalInstance(h.corpID, dingtalksim.ApprovalInstance{ProcessCode: dingtalksim.ProcessLeave,
		OriginatorUserID: user, FormValues: dingtalksim.LeaveForm("年假", day, day, 1, "day")})
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitApproval(inst.ID, dingtalksim.ApprovalRunning, "", 30*time.Second)
	if _, err := h.sim.SetApprovalStatus(h.corpID, inst.ID, dingtalksim.ApprovalCompleted, dingtalksim.ResultAgree); err != nil {
		h.t.Fatal(err)
	}
	h.waitApproval(inst.ID, dingtalksim.ApprovalCompleted, dingtalksim.ResultAgree, 30*time.Second)
	if n := h.count(`SELECT count(*) FROM leave_requests WHERE corp_id = $1 AND instance_id = $2 AND approved AND userid = $3`,
		h.corpID, inst.ID, user); n != 1 {
		h.t.Fatal("the approved leave request is not in leave_requests")
	}
	waitFor(h.t, 10*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND event_type = 'bpms_instance_change'
			AND source = $2 AND status = 'applied' AND instance_refs @> jsonb_build_array(jsonb_build_object('instance_id', $3::text))`,
			h.corpID, source, inst.ID) == 2
	})
	if n := h.count(`SELECT count(*) FROM import_watermarks WHERE corp_id = $1`, h.corpID); n != 0 {
		h.t.Fatalf("%d import runs recorded: the instance should have arrived by its events alone", n)
	}
}

func TestApprovalEventsPushedByCallbackRefreshTheStoreWithoutAnImport(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 87, Employees: 20})
	h.startWorker()
	h.bindWithEvents()
	reg, ok := h.sim.Callback(h.corpID)
	if !ok || !slices.Contains(reg.Tags, dingtalksim.EventApprovalChange) || !slices.Contains(reg.Tags, "user_add_org") {
		t.Fatalf("callback registration %v (%v): want the contact events and %s", reg.Tags, ok, dingtalksim.EventApprovalChange)
	}
	h.approvalEventsReachTheStore("http")
}

func TestApprovalEventsByStreamRefreshTheStoreWithoutAnImport(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 88, Employees: 20})
	h.startWorker()
	h.bindStream()
	h.waitStream(1, 30*time.Second)
	h.approvalEventsReachTheStore("stream")
}
