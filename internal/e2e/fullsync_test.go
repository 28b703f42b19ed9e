package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/workflows"
)

func TestFullSyncCopiesTheOrgAndASecondRunChangesNothing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 1, Employees: 1500})
	h.startWorker()
	h.bind(h.appSecret)

	res, out, code := h.syncFull()
	if code != 0 || res.Status != "succeeded" {
		t.Fatalf("first sync exited %d (%s):\n%s", code, res.Status, out)
	}
	truth := h.truth()
	if res.Employees != len(truth.Users) || res.Created != len(truth.Users) || res.Departments != len(truth.Departments) {
		t.Fatalf("first sync = %+v, want %d employees created in %d departments", res, len(truth.Users), len(truth.Departments))
	}
	h.assertStoreMatchesDingTalk()

	changesBefore := h.count(`SELECT count(*) FROM sync_changes`)
	updatedAt := h.count(`SELECT count(*) FROM employees WHERE last_run_id = $1`, res.RunID)
	second, out, code := h.syncFull()
	if code != 0 || second.Created+second.Updated+second.Deactivated+second.DepartmentsChanged != 0 {
		t.Fatalf("second sync of an unchanged org = %+v (exit %d):\n%s", second, code, out)
	}
	if n := h.count(`SELECT count(*) FROM sync_changes`); n != changesBefore {
		t.Fatalf("second sync wrote %d changes, want none", n-changesBefore)
	}
	if n := h.count(`SELECT count(*) FROM employees WHERE last_run_id = $1`, res.RunID); n != updatedAt {
		t.Fatalf("second sync rewrote %d employee rows, want none", updatedAt-n)
	}
}

func TestFullSyncAppliesMovesRenamesAndLeavers(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 2, Employees: 300})
	h.startWorker()
	h.bind(h.appSecret)
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("first sync failed:\n%s", out)
	}
	truth := h.sim.Truth(h.corpID)
	dept := truth.Departments[2]
	dept.Name = "数字化转型部"
	if _, err := h.sim.UpdateDepartment(h.corpID, dept); err != nil {
		t.Fatal(err)
	}
	leaver := truth.Users[5]
	if err := h.sim.RemoveUser(h.corpID, leaver.UserID); err != nil {
		t.Fatal(err)
	}
	mover := truth.Users[9]
	to := truth.Departments[len(truth.Departments)-1].ID
	if _, err := h.sim.MoveUser(h.corpID, mover.UserID, mover.DeptIDList[0], to); err != nil {
		t.Fatal(err)
	}

	res, out, code := h.syncFull()
	if code != 0 || res.Deactivated != 1 || res.Updated != 1 || res.DepartmentsChanged != 1 {
		t.Fatalf("sync after changes = %+v (exit %d), want 1 deactivated, 1 updated, 1 department changed:\n%s", res, code, out)
	}
	h.assertStoreMatchesDingTalk()
	changes := h.mustStarter("", "changes", "--corp-id", h.corpID, "--userid", leaver.UserID)
	if !strings.Contains(changes, "deactivate") {
		t.Fatalf("the leaver's audit trail has no deactivation:\n%s", changes)
	}
}

func TestWorkerKilledMidSyncFinishesWithTheSameStore(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 3, Employees: 3000})
	h.limitQPS(20) // DingTalk's own limit: the crawl takes seconds, time enough to kill it
	h.bind(h.appSecret)
	worker := h.startWorker()

	done := make(chan struct{})
	var res workflows.FullSyncResult
	var out string
	var code int
	go func() {
		defer close(done)
		res, out, code = h.syncFull()
	}()
	// Kill the worker three times while it reads DingTalk, each time once more was staged.
	for kill := 1; kill <= 3; kill++ {
		waitFor(t, 60*time.Second, func() bool {
			return h.count(`SELECT count(*) FROM staging_users`) >= kill*600
		})
		worker.Kill()
		worker = h.startWorker()
	}
	<-done
	if code != 0 || res.Status != "succeeded" {
		t.Fatalf("sync after kills exited %d (%+v):\n%s", code, res, out)
	}
	h.assertStoreMatchesDingTalk()
	if n := h.count(`SELECT count(*) FROM sync_changes WHERE op = 'create'`); n != len(h.truth().Users)+len(h.truth().Departments) {
		t.Fatalf("%d create changes, want one per employee and department", n)
	}
}

func TestWrongSecretFailsWithAFixAndWritesNothing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 4, Employees: 100})
	h.startWorker()
	h.bind("not-the-secret")

	_, out, code := h.syncFull()
	if code == 0 {
		t.Fatalf("sync with a wrong secret succeeded:\n%s", out)
	}
	for _, want := range []string{"AppKey/AppSecret", "developer console"} {
		if !strings.Contains(out, want) {
			t.Errorf("error does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not-the-secret") {
		t.Fatalf("the error shows the secret:\n%s", out)
	}
	if n := h.count(`SELECT count(*) FROM employees`); n != 0 {
		t.Fatalf("a failed sync wrote %d employees", n)
	}
	status := h.count(`SELECT count(*) FROM bindings WHERE status = 'credentials_invalid'`)
	if status != 1 {
		t.Fatalf("binding not marked credentials_invalid")
	}
}

func TestUnreadableDepartmentIsRecordedAndTheRunEndsPartial(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 5, Employees: 400})
	denied := h.sim.Truth(h.corpID).Departments[3].ID
	other := "dingapp" + randomHex(3)
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: other, AppSecret: h.appSecret,
		DeniedDepartments: []int64{denied}}); err != nil {
		t.Fatal(err)
	}
	h.appKey = other
	h.startWorker()
	h.bind(h.appSecret)

	res, out, code := h.syncFull()
	if code != 0 || res.Status != "partial" || res.RecordErrors == 0 {
		t.Fatalf("sync = %+v (exit %d), want partial with record errors:\n%s", res, code, out)
	}
	detail := h.mustStarter("", "runs", "--run-id", itoa(res.RunID))
	if !strings.Contains(detail, "contact scope") {
		t.Fatalf("run detail does not explain the unreadable department:\n%s", detail)
	}
}

func TestDeletionGuardWaitsForApproval(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 6, Employees: 200})
	h.startWorker()
	h.bind(h.appSecret)
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("first sync failed:\n%s", out)
	}
	users := h.sim.Truth(h.corpID).Users
	for _, u := range users[:40] { // 20% leave at once: over the 10% guard
		if err := h.sim.RemoveUser(h.corpID, u.UserID); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var res workflows.FullSyncResult
	var out string
	go func() { defer close(done); res, out, _ = h.syncFull() }()
	waitFor(t, 60*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE status = 'awaiting_approval'`) == 1
	})
	if n := h.count(`SELECT count(*) FROM employees WHERE status = 'left'`); n != 0 {
		t.Fatalf("%d employees deactivated before approval", n)
	}
	if out, code := h.starter("", "deletions", "approve", "--corp-id", h.corpID); code != 2 || !strings.Contains(out, "--by") {
		t.Fatalf("approve without --by: exit %d\n%s", code, out)
	}
	h.mustStarter("", "deletions", "approve", "--corp-id", h.corpID, "--by", "alice")
	<-done
	if res.Deactivated != 40 || res.DecidedBy != "alice" {
		t.Fatalf("approved sync = %+v\n%s", res, out)
	}
	h.assertStoreMatchesDingTalk()
}

func TestSecondStartIsRefusedWhileOneRuns(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 7, Employees: 500})
	h.limitQPS(2)
	h.startWorker()
	h.bind(h.appSecret)
	h.mustStarter("", "sync", "full", "--corp-id", h.corpID)
	out, code := h.starter("", "sync", "full", "--corp-id", h.corpID)
	if code == 0 || !strings.Contains(out, "already running") {
		t.Fatalf("second start: exit %d\n%s", code, out)
	}
}

func TestBadInputIsRefusedWithTheFix(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 8, Employees: 10})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sync", "full", "--corp-id", "dingunknown1"}, "bind it first"},
		{[]string{"sync", "full"}, "--corp-id is required"},
		{[]string{"bind", "--corp-id", h.corpID, "--app-key", h.appKey}, "--app-secret-file is required"},
		{[]string{"bind", "--corp-id", "bad corp!", "--app-key", h.appKey, "--app-secret-file", "-"}, "is not a CorpId"},
		{[]string{"changes"}, "give --run-id"},
		{[]string{"sync", "full", "--corp-id", h.corpID, "--bogus"}, "unknown flag"},
	}
	for _, c := range cases {
		out, code := h.starter("", c.args...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("starter %v: exit %d, want an error saying %q:\n%s", c.args, code, c.want, out)
		}
	}
	if n := h.count(`SELECT count(*) FROM bindings`); n != 0 {
		t.Fatalf("bad input stored %d bindings", n)
	}
}

func TestAppSecretNeverReachesHistoryOrLogs(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 9, Employees: 200})
	worker := h.startWorker()
	h.bind(h.appSecret)
	_, out, code := h.syncFull()
	if code != 0 {
		t.Fatalf("sync failed:\n%s", out)
	}
	c, err := devServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var history strings.Builder
	iter := c.GetWorkflowHistory(context.Background(), workflows.FullSyncWorkflowID(h.corpID), "", false,
		enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		events++
		history.WriteString(ev.String())
	}
	if events < 10 || !strings.Contains(history.String(), h.corpID) {
		t.Fatalf("history has %d events and no corp id: the check below would prove nothing", events)
	}
	for where, text := range map[string]string{"workflow history": history.String(), "worker log": worker.Output(), "starter output": out} {
		if strings.Contains(text, h.appSecret) {
			t.Errorf("the AppSecret appears in the %s", where)
		}
	}
	var raw []byte
	if err := h.st.DB().Get(&raw, `SELECT string_agg(encode(ciphertext, 'escape'), '')::bytea FROM credentials`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), h.appSecret) {
		t.Fatal("the credentials table holds the AppSecret in plaintext")
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMalformedAndFailingResponsesStillConverge(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 10, Employees: 1000})
	// One response in five is corrupted (truncated JSON, wrong types, no result) and one in
	// twenty fails (-1, 502, 503): the client retries them, and a crawl that runs out of
	// retries resumes from staging.
	if err := h.sim.SetFaults("", dingtalksim.Faults{Seed: 1, MalformedRate: 0.2, ErrorRate: 0.05,
		APIs: []string{dingtalksim.APIDepartmentListSub, dingtalksim.APIUserList}}); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	h.bind(h.appSecret)
	res, out, code := h.syncFull()
	if code != 0 || res.Status != "succeeded" {
		t.Fatalf("sync under faults exited %d (%+v):\n%s", code, res, out)
	}
	h.assertStoreMatchesDingTalk()
}

func TestPersistentlyMalformedResponsesFailTheRunClearly(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 11, Employees: 50})
	if err := h.sim.SetFaults("", dingtalksim.Faults{MalformedRate: 1, APIs: []string{dingtalksim.APIUserList}}); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	h.bind(h.appSecret)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = h.syncFull()
	}()
	// The crawl retries (DingTalk may recover); meanwhile nothing is applied and the run
	// says why it is stuck.
	waitFor(t, 60*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE phase = 'reading DingTalk'`) == 1
	})
	time.Sleep(3 * time.Second)
	if n := h.count(`SELECT count(*) FROM employees`); n != 0 {
		t.Fatalf("%d employees applied from malformed responses", n)
	}
	c, err := devServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(context.Background(), workflows.FullSyncWorkflowID(h.corpID), "")
	if err != nil {
		t.Fatal(err)
	}
	var failure string
	for _, pa := range desc.GetPendingActivities() {
		failure += pa.GetLastFailure().GetMessage()
	}
	if !strings.Contains(failure, "malformed response") {
		t.Fatalf("the pending crawl's last failure does not say the response was malformed: %q", failure)
	}
	if err := c.TerminateWorkflow(context.Background(), workflows.FullSyncWorkflowID(h.corpID), "", "test done"); err != nil {
		t.Fatal(err)
	}
	<-done
}
