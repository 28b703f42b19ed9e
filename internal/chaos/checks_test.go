package chaos

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// assertConverged is how every scenario ends, once the faults stop: within timeout no run is
// left running, no accepted event is left unapplied, and the HR store equals the simulator's
// ground truth (every employee, department and membership, by value); then the audit trail
// has no duplicated operation and the worker is still alive. A store that stays different
// while nothing is left to apply (no run, no pending event, no push queued) fails after 15 s
// rather than at the timeout: nothing would change it any more.
func (h *harness) assertConverged(timeout time.Duration) {
	h.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var quietSince time.Time
	defer h.countPushFaults()
	for {
		pending, diffs := h.divergence(ctx)
		if len(pending)+len(diffs) == 0 {
			break
		}
		switch {
		case len(pending) > 0 || h.sim.PushStats(h.corpID).Queued > 0:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		}
		if h.approveHeldDeletions && h.count(`SELECT count(*) FROM sync_runs WHERE status = 'awaiting_approval'`) > 0 {
			h.mustStarter("deletions", "approve", "--corp-id", h.corpID, "--by", "chaos", "--reason", "leavers DingTalk lists as gone")
			quietSince = time.Time{}
		}
		stuck := !quietSince.IsZero() && time.Since(quietSince) > 15*time.Second
		if stuck || time.Now().After(deadline) {
			last := append(pending, diffs...)
			why := fmt.Sprintf("not converged after %s", timeout)
			if stuck {
				why = "nothing left to apply, yet the store differs from DingTalk"
			}
			h.t.Fatalf("%s:\n%s%s", why, strings.Join(last[:min(len(last), 15)], "\n"), h.history(diffs))
		}
		time.Sleep(250 * time.Millisecond)
	}
	problems, err := testenv.CheckAuditTrail(ctx, h.st, h.corpID)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(problems) > 0 {
		h.t.Fatalf("the audit trail holds duplicated operations:\n%s", strings.Join(problems, "\n"))
	}
	h.assertWorkerAlive()
}

// divergence lists what is still to do (runs running, events unapplied; errors, such as a
// database restarting, count as to do) and how the store differs from DingTalk.
func (h *harness) divergence(ctx context.Context) (pending, diffs []string) {
	running, err := testenv.RunsNotFinished(ctx, h.st, h.corpID)
	if err != nil {
		return []string{err.Error()}, nil
	}
	for _, r := range running {
		pending = append(pending, "run still running: "+r)
	}
	var unapplied []string
	if err := h.st.DB().SelectContext(ctx, &unapplied, `SELECT event_id || ' ' || status FROM inbox_events
		WHERE corp_id = $1 AND status <> 'applied' ORDER BY seq LIMIT 5`, h.corpID); err != nil {
		return []string{err.Error()}, nil
	}
	for _, e := range unapplied {
		pending = append(pending, "event not applied: "+e)
	}
	diffs, err = testenv.DiffStore(ctx, h.st, h.corpID, h.truth())
	if err != nil {
		return []string{err.Error()}, nil
	}
	return pending, diffs
}

var employeeDiff = regexp.MustCompile(`^employee (\S+) `)

// history explains up to three differing employees: the events that named them, in arrival
// order, and their audit trail.
func (h *harness) history(diffs []string) string {
	var b strings.Builder
	n := 0
	for _, d := range diffs {
		m := employeeDiff.FindStringSubmatch(d)
		if m == nil || n == 3 {
			continue
		}
		n++
		var events, changes []string
		_ = h.st.DB().Select(&events, `SELECT seq || ' ' || event_type || ' at ' || to_char(event_time, 'HH24:MI:SS.MS') || ' via ' || source
			|| ' ' || status || ' run ' || coalesce(run_id::text, '-') FROM inbox_events WHERE corp_id = $1 AND $2 = ANY(user_ids) ORDER BY seq`, h.corpID, m[1])
		_ = h.st.DB().Select(&changes, `SELECT 'run ' || run_id || ' ' || op || ' ' || array_to_string(changed_fields, ',') FROM sync_changes
			WHERE corp_id = $1 AND entity = 'employee' AND record_id = $2 ORDER BY id`, h.corpID, m[1])
		fmt.Fprintf(&b, "\nemployee %s\n  events (arrival order): %s\n  changes: %s", m[1],
			strings.Join(events, "; "), strings.Join(changes, "; "))
	}
	return b.String()
}

// countPushFaults records the pushes that did not reach the receiver (refused, cut, timed
// out, answered wrongly), which DingTalk keeps in its failed list.
func (h *harness) countPushFaults() {
	st := h.sim.PushStats(h.corpID)
	h.sc.fault("failed pushes", int(st.Outcomes[dingtalksim.PushError]+st.Outcomes[dingtalksim.PushTimeout]+
		st.Outcomes[dingtalksim.PushBadReply]))
}
