package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// TestChaosWorkerKillsDuringRotation rotates the AppSecret (`starter rotate`) once, or four
// times in the long suite, each time with the old secret already reset in DingTalk, events
// streaming and the worker kill -9'd at a random point of the rotation: every rotation still
// completes, no run fails, no event is lost, every step is logged once, and a full sync with
// the last secret finds nothing left to do.
func TestChaosWorkerKillsDuringRotation(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 704, Employees: pick(200, 1000)})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	s := h.startStream(100*time.Millisecond, false)
	// A slow DingTalk (0.2-0.4 s a call, token endpoints too) stretches each rotation step, so
	// kills land inside.
	if err := h.sim.SetFaults("", dingtalksim.Faults{Latency: 200 * time.Millisecond, Jitter: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	rotations := pick(1, 4)
	for version := 2; version <= rotations+1; version++ {
		h.rotateWithAKill(version)
	}
	time.Sleep(time.Second)
	t.Logf("%d rotations, %d changes", rotations, s.Stop())
	h.drainPushes()
	h.assertConverged(3 * time.Minute)
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind = 'app_secret' AND status = 'active' AND version = $1`, rotations+1); n != 1 {
		t.Fatalf("the last rotated AppSecret (version %d) is not the active one", rotations+1)
	}
	if n := h.count(`SELECT count(*) FROM ops_log WHERE action = 'rotate app_secret'`); n != 3*rotations {
		t.Errorf("%d rotation steps in the ops log, want stored pending, activated and succeeded once per rotation (%d)", n, 3*rotations)
	}
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE status NOT IN ('succeeded', 'partial')`); n != 0 {
		t.Errorf("%d runs failed during the rotations", n)
	}
	res, out, code := h.syncFull()
	if code != 0 || res.Created+res.Updated+res.Deactivated+res.DepartmentsChanged != 0 {
		t.Fatalf("a full sync with the new secret changed %+v (exit %d):\n%s", res, code, out)
	}
}

// rotateWithAKill resets the AppSecret in DingTalk (the old one dies at once), runs `starter
// rotate` to hand dingsync the new one as the given version, kills the worker at a random
// point of the rotation, and waits for the rotation to succeed; then revokes the old tokens.
func (h *harness) rotateWithAKill(version int) {
	h.t.Helper()
	newSecret := "rotated-" + randomHex(16)
	if err := h.sim.SetAppSecret(h.appKey, newSecret); err != nil {
		h.t.Fatal(err)
	}
	type outcome struct {
		out  string
		code int
	}
	done := make(chan outcome, 1)
	go func() {
		out, code := h.starter("", "rotate", "--corp-id", h.corpID, "--app-secret-file", h.secretFile(newSecret), "--by", "chaos")
		done <- outcome{out, code}
	}()
	waitFor(h.t, time.Minute, "the starter stores the pending secret", func() bool {
		return h.count(`SELECT count(*) FROM credentials WHERE kind = 'app_secret' AND version = $1`, version) == 1
	})
	time.Sleep(h.sc.between(0, 700*time.Millisecond))
	if h.count(`SELECT count(*) FROM credentials WHERE kind = 'app_secret' AND version = $1 AND status = 'active'
		AND NOT EXISTS (SELECT 1 FROM credentials WHERE kind = 'app_secret' AND status = 'previous')`, version) == 0 {
		h.killWorker()
	}
	o := <-done
	if o.code != 0 || !strings.Contains(o.out, "retire the old version: ok") {
		h.t.Fatalf("rotation to version %d exited %d:\n%s", version, o.code, o.out)
	}
	if err := h.sim.RevokeTokens(h.appKey); err != nil { // from now only the new secret works
		h.t.Fatal(err)
	}
}
