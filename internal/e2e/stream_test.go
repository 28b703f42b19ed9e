package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// bindStream binds through the CLI with Stream mode as the event intake.
func (h *harness) bindStream() {
	h.t.Helper()
	out, code := h.bindCLI(h.appSecret, "--event-intake", "stream")
	if code != 0 || !strings.Contains(out, "is active") || !strings.Contains(out, "Stream mode") {
		h.t.Fatalf("bind --event-intake stream exited %d:\n%s", code, out)
	}
	if _, ok := h.sim.Callback(h.corpID); ok {
		h.t.Fatal("a binding with stream intake registered an HTTP callback")
	}
}

// waitStream waits until one Stream connection of the app is up, the connects-th or a later one.
func (h *harness) waitStream(connects int64, timeout time.Duration) {
	h.t.Helper()
	waitFor(h.t, timeout, func() bool {
		st := h.sim.StreamStats(h.appKey)
		return st.Connections == 1 && st.Connects >= connects
	})
}

// startWorkerAt runs another worker process, with its own public address.
func (h *harness) startWorkerAt() *testenv.Process {
	h.t.Helper()
	ports, err := testenv.FreePorts(1)
	if err != nil {
		h.t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	w := testenv.StartProcess(h.t, binaries.Worker, h.env("DINGSYNC_HTTP_ADDR="+addr))
	h.workers = append(h.workers, w)
	waitFor(h.t, 30*time.Second, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return w
}

// retitle gives users[from:from+n] new titles in DingTalk, calling between(i) before the i-th.
func (h *harness) retitle(users []dingtalksim.User, from, n int, tag string, between func(i int)) {
	h.t.Helper()
	for i := range n {
		if between != nil {
			between(i)
		}
		u := users[from+i]
		u.Title = fmt.Sprintf("%s%d", tag, i)
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			h.t.Fatal(err)
		}
	}
}

// assertEveryEventStoredOnce fails unless each event DingTalk recorded is in the inbox exactly
// once, from the stream, and applied.
func (h *harness) assertEveryEventStoredOnce() {
	h.t.Helper()
	var ids []string
	for _, ev := range h.sim.Events(h.corpID) {
		ids = append(ids, ev.ID)
	}
	stored := h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND event_id = ANY($2) AND source = 'stream' AND status = 'applied'`,
		h.corpID, pq.Array(ids))
	if total := h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1`, h.corpID); stored != len(ids) || total != len(ids) {
		h.t.Fatalf("DingTalk recorded %d events; the inbox holds %d rows, %d of them those events applied from the stream", len(ids), total, stored)
	}
}

func TestStreamIntakeAppliesChangesAcrossDropsDisconnectsAndDuplicates(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 51, Employees: 300})
	h.startWorker()
	h.bindStream()
	h.waitStream(1, 30*time.Second)
	truth := h.sim.Truth(h.corpID)
	users := truth.Users

	if _, err := h.sim.AddUser(h.corpID, dingtalksim.User{UserID: "streamhire01", Name: "流新", DeptIDList: []int64{truth.Departments[1].ID}, Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RemoveUser(h.corpID, users[0].UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.MoveUser(h.corpID, users[1].UserID, users[1].DeptIDList[0], truth.Departments[len(truth.Departments)-1].ID); err != nil {
		t.Fatal(err)
	}
	dept := truth.Departments[2]
	dept.Name = "流式部"
	if _, err := h.sim.UpdateDepartment(h.corpID, dept); err != nil {
		t.Fatal(err)
	}
	h.retitle(users, 2, 5, "岗位", nil)
	h.eventuallyMatches(30 * time.Second)

	// The connection dropped twice mid-stream: it reconnects, and unacknowledged events come again.
	h.retitle(users, 10, 30, "断线", func(i int) {
		switch i {
		case 10:
			h.sim.StreamDrop(h.appKey)
		case 20:
			h.waitStream(2, 10*time.Second)
			h.sim.StreamDrop(h.appKey)
		}
	})
	h.eventuallyMatches(60 * time.Second)
	h.waitStream(3, 10*time.Second)

	// DingTalk asks the client to disconnect: it acknowledges, closes and reconnects.
	if n := h.sim.StreamDisconnect(h.appKey); n != 1 {
		t.Fatalf("disconnect reached %d connections", n)
	}
	h.retitle(users, 40, 10, "重连", nil)
	h.eventuallyMatches(30 * time.Second)

	// Every event sent twice: the second copy is acknowledged and dropped.
	if err := h.sim.SetStreamOptions(dingtalksim.StreamOptions{DuplicateRate: 1}); err != nil {
		t.Fatal(err)
	}
	h.retitle(users, 50, 10, "重复", nil)
	leavers := []string{users[60].UserID, users[61].UserID, users[62].UserID}
	for _, u := range leavers {
		if err := h.sim.RemoveUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.sim.WaitStreamIdle(ctx, h.appKey); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(30 * time.Second)
	if n := h.count(`SELECT count(*) FROM sync_changes WHERE corp_id = $1 AND op = 'deactivate' AND record_id = ANY($2)`,
		h.corpID, pq.Array(leavers)); n != len(leavers) {
		t.Fatalf("%d deactivations recorded for %d leavers whose events came twice", n, len(leavers))
	}
	h.assertEveryEventStoredOnce()
	st := h.sim.StreamStats(h.appKey)
	if st.Connects < 4 || st.Drops != 2 || st.Disconnects != 1 || st.Duplicated != 13 || st.Queued+st.InFlight != 0 {
		t.Fatalf("stream stats %+v: want 4 connections, 2 drops, 1 disconnect, 13 duplicated events, none left", st)
	}
	if out := h.workers[0].Output(); strings.Contains(out, h.appSecret) || !strings.Contains(out, "dingtalk stream: connected") {
		t.Fatal("the worker log holds the AppSecret, or says nothing of the stream")
	}
}

func TestStreamIsHeldByOneWorkerAndAnotherTakesOverWhenItDies(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 52, Employees: 200})
	first := h.startWorker()
	h.bindStream()
	h.waitStream(1, 30*time.Second)
	second := h.startWorkerAt()
	time.Sleep(3 * time.Second) // the second worker has looked at the stream bindings by now
	if st := h.sim.StreamStats(h.appKey); st.Opens != 1 || st.Connections != 1 {
		t.Fatalf("with two workers the corp's stream was opened %d times (%d up), want once", st.Opens, st.Connections)
	}
	users := h.sim.Truth(h.corpID).Users

	first.Kill()
	h.retitle(users, 0, 20, "接管", nil) // while nobody holds the stream: DingTalk keeps them
	h.waitStream(2, 30*time.Second)
	h.eventuallyMatches(90 * time.Second)

	second.Kill()
	h.startWorker()
	h.retitle(users, 20, 10, "再接管", nil)
	h.waitStream(3, 30*time.Second)
	h.eventuallyMatches(90 * time.Second)
	h.assertEveryEventStoredOnce()
}
