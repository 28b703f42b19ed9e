package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/schedules"
)

// schedules runs `starter schedules list --json` for the corp.
func (h *harness) schedules() map[string]schedules.Info {
	h.t.Helper()
	var list []schedules.Info
	if err := json.Unmarshal([]byte(h.mustStarter("", "schedules", "list", "--corp-id", h.corpID, "--json")), &list); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]schedules.Info{}
	for _, s := range list {
		out[s.Kind] = s
	}
	return out
}

func TestSchedulesFollowTheBindingAndSurviveAWorkerRestart(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 71, Employees: 60})
	w := h.startWorker()
	if out, code := h.bindCLI(h.appSecret); code != 0 {
		t.Fatalf("bind exited %d:\n%s", code, out)
	}
	got := h.schedules()
	for _, kind := range schedules.Kinds {
		s := got[kind]
		if !s.Exists || s.Paused || s.NextRun.IsZero() || s.TimeZone != "Asia/Shanghai" {
			t.Fatalf("after binding, schedule %s = %+v: want it active with a next run in Asia/Shanghai", kind, s)
		}
		if next := s.NextRun.In(time.FixedZone("CST", 8*3600)); next.Minute() == 0 || next.Hour() != map[string]int{"audit": 2, "fullsync": 3}[kind] {
			t.Fatalf("schedule %s next runs at %s: want 02:MM / 03:MM China time, never on the hour", kind, next)
		}
	}

	// A schedule lives in Temporal: with the worker gone, a triggered run waits for the next one.
	w.Kill()
	h.mustStarter("", "schedules", "trigger", "--corp-id", h.corpID, "--kind", "audit")
	h.startWorker()
	waitFor(t, time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'audit' AND trigger = 'schedule' AND status = 'succeeded'`) == 1
	})
	if n := h.count(`SELECT count(*) FROM audit_reports`); n != 1 {
		t.Fatalf("%d audit reports after the scheduled audit, want 1", n)
	}

	if out, code := h.starter("", "schedules", "update", "--corp-id", h.corpID, "--audit-cron", "5 4 *", "--by", "alice"); code != 2 ||
		!strings.Contains(out, "has 3 fields") {
		t.Fatalf("a bad cron spec: exit %d\n%s", code, out)
	}
	h.mustStarter("", "schedules", "update", "--corp-id", h.corpID, "--audit-cron", "5 4 * * *", "--fullsync-cron", "off", "--by", "alice")
	got = h.schedules()
	if next := got["audit"].NextRun.In(time.FixedZone("CST", 8*3600)); next.Hour() != 4 || next.Minute() != 5 || got["fullsync"].Exists {
		t.Fatalf("after update: audit next %s (want 04:05), fullsync %+v (want off)", next, got["fullsync"])
	}

	h.mustStarter("", "pause", "--corp-id", h.corpID, "--by", "bob", "--reason", "migration")
	if s := h.schedules()["audit"]; !s.Paused || !strings.Contains(s.Note, "bob") {
		t.Fatalf("pausing the binding left its audit schedule %+v", s)
	}
	h.mustStarter("", "resume", "--corp-id", h.corpID, "--by", "bob")
	if s := h.schedules()["audit"]; s.Paused {
		t.Fatalf("resuming the binding left its audit schedule paused: %+v", s)
	}
	h.mustStarter("", "unbind", "--corp-id", h.corpID, "--by", "bob")
	for kind, s := range h.schedules() {
		if s.Exists {
			t.Fatalf("schedule %s survived the unbind: %+v", kind, s)
		}
	}
	if n := h.count(`SELECT count(*) FROM ops_log WHERE action = 'schedules' AND actor = 'alice'`); n != 1 {
		t.Fatalf("%d schedule changes logged, want 1", n)
	}
}
