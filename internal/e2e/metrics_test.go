package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/metricscheck"
	"github.com/dingsync/dingsync/internal/testenv"
)

// TestMetricsAfterASyncMatchTheREADMECatalogue drives a worker through every kind of work that
// exports metrics: bind (initial full sync), an event applied incrementally, a forged push, an
// audit, a full sync that fails on an AppSecret reset in DingTalk, and the rotation that puts
// the new secret in dingsync. Then it scrapes /metrics and checks it against the README's catalogue (both
// ways), for high-cardinality labels, with promtool, and for the values this scenario implies.
func TestMetricsAfterASyncMatchTheREADMECatalogue(t *testing.T) {
	promtool := metricscheck.Tool(t, "promtool")
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 61, Employees: 200})
	addr := h.startWorkerServingMetrics()
	start := time.Now()
	h.bindWithEvents()
	org := h.sim.Truth(h.corpID)
	changed := org.Users[3]
	changed.Title = "度量工程师"
	if _, err := h.sim.UpdateUser(h.corpID, changed); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(20 * time.Second)
	h.forgePush(changed.UserID)
	if res := h.audit(); res.Total != 0 {
		t.Fatalf("audit of a synced store found drift: %+v", res)
	}
	// The AppSecret is reset in the developer console: the next sync fails on it, and the
	// binding shows credentials_invalid until ops rotate dingsync to the new secret.
	rotated := "rotated-" + randomHex(16)
	if err := h.sim.SetAppSecret(h.appKey, rotated); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RevokeTokens(h.appKey); err != nil {
		t.Fatal(err)
	}
	if res, out, code := h.syncFull(); code == 0 {
		t.Fatalf("a full sync with a dead secret exited 0 (%+v):\n%s", res, out)
	}
	invalid := map[string]string{"corp": h.corpID, "status": "credentials_invalid"}
	_, fams := scrapeUntil(t, addr, 30*time.Second, func(fams map[string]*dto.MetricFamily) bool {
		v, ok := sample(fams["dingsync_binding_status"], invalid) // the sweeper exports it every few seconds
		return ok && v == 1
	})
	if v, _ := sample(fams["dingsync_binding_status"], invalid); v != 1 {
		t.Fatalf("dingsync_binding_status%v = %v after a sync failed on the secret, want 1", invalid, v)
	}
	if out := h.mustStarter("", "rotate", "--corp-id", h.corpID, "--app-secret-file", h.secretFile(rotated), "--by", "alice"); !strings.Contains(out, "retire the old version: ok") {
		t.Fatalf("rotate did not finish:\n%s", out)
	}

	text, fams := scrapeUntil(t, addr, 10*time.Second, func(fams map[string]*dto.MetricFamily) bool { return true })
	checkPromtoolLint(t, promtool, text)
	checkAgainstCatalogue(t, fams)
	checkNoHighCardinalityLabels(t, fams, org)

	users := strconv.Itoa(len(org.Users))
	startedBy := ">=" + strconv.FormatInt(start.Unix(), 10)
	for _, c := range []struct {
		family string
		labels map[string]string
		want   string // "=N", ">=N" or ">N"
	}{
		{"dingsync_sync_runs_total", map[string]string{"kind": "full", "status": "succeeded"}, ">0"},
		{"dingsync_sync_runs_total", map[string]string{"kind": "incremental", "status": "succeeded"}, ">0"},
		{"dingsync_sync_run_duration_seconds", map[string]string{"kind": "full"}, ">=2"},
		{"dingsync_records_changed_total", map[string]string{"entity": "employee", "op": "create"}, "=" + users},
		{"dingsync_records_changed_total", map[string]string{"entity": "employee", "op": "update"}, ">0"},
		{"dingsync_dingtalk_requests_total", map[string]string{"api": dingtalk.APIUserList, "outcome": "ok"}, ">0"},
		{"dingsync_dingtalk_request_duration_seconds", map[string]string{"api": dingtalk.APIUserList}, ">0"},
		{"dingsync_sync_lag_seconds", nil, ">0"},
		{"dingsync_callbacks_total", map[string]string{"outcome": "accepted"}, ">0"},
		{"dingsync_callbacks_total", map[string]string{"outcome": "bad_signature"}, "=1"},
		{"dingsync_binding_status", map[string]string{"corp": h.corpID, "status": "credentials_invalid"}, ">=0"}, // kept, at 0 or 1
		{"dingsync_sync_last_success_timestamp_seconds", map[string]string{"corp": h.corpID, "kind": "full"}, startedBy},
		{"dingsync_sync_runs_total", map[string]string{"kind": "full", "status": "failed"}, "=1"},
		{"dingsync_sync_failures_total", map[string]string{"kind": "full", "reason": "DingTalkAuth"}, "=1"},
		{"dingsync_sync_runs_total", map[string]string{"kind": "audit", "status": "succeeded"}, ">0"},
		{"dingsync_audit_drift_records", map[string]string{"corp": h.corpID, "kind": "missing"}, "=0"},
		{"dingsync_audit_last_run_timestamp_seconds", map[string]string{"corp": h.corpID}, startedBy},
		{"dingsync_audit_duration_seconds", nil, ">0"},
		{"dingsync_credential_rotations_total", map[string]string{"credential": "app_secret", "result": "succeeded"}, "=1"},
	} {
		v, ok := sample(fams[c.family], c.labels)
		if !ok || !compare(v, c.want) {
			t.Errorf("%s%v = %v (present: %v), want %s", c.family, c.labels, v, ok, c.want)
		}
	}
	if n := countWhere(fams["dingsync_binding_status"], h.corpID, 1); n != 1 {
		t.Errorf("dingsync_binding_status has %d statuses at 1 for corp %s, want exactly one", n, h.corpID)
	}
	if t.Failed() {
		t.Logf("scraped /metrics:\n%s", grepLines(text, "dingsync_"))
	}
}

// forgePush sends a push about userID with a wrong signature; the worker must refuse it.
func (h *harness) forgePush(userID string) {
	h.t.Helper()
	reg, ok := h.sim.Callback(h.corpID)
	if !ok {
		h.t.Fatal("no callback registered")
	}
	crypter, err := callback.NewCrypter(reg.Token, reg.AESKey, h.corpID)
	if err != nil {
		h.t.Fatal(err)
	}
	forged := fmt.Sprintf(`{"EventType":"user_modify_org","TimeStamp":%d,"UserId":[%q],"CorpId":%q,"eventId":"forged-1"}`,
		time.Now().UnixMilli(), userID, h.corpID)
	if resp := h.push(h.t, crypter, forged, time.Now(), func(q map[string]string, _ *bytes.Buffer) {
		q["msg_signature"] = strings.Repeat("0", 40)
	}); resp.StatusCode != http.StatusUnauthorized {
		h.t.Fatalf("a forged push answered %d, want 401", resp.StatusCode)
	}
}

// startWorkerServingMetrics starts a worker with /metrics on a known address and returns it.
func (h *harness) startWorkerServingMetrics() string {
	h.t.Helper()
	ports, err := testenv.FreePorts(1)
	if err != nil {
		h.t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	h.startWorker("DINGSYNC_METRICS_ADDR=" + addr) // the last value of a variable wins
	return addr
}

// scrapeUntil scrapes http://addr/metrics until ready holds or timeout passes.
func scrapeUntil(t *testing.T, addr string, timeout time.Duration, ready func(map[string]*dto.MetricFamily) bool) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
		}
		fams, err := metricscheck.Parse(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("the worker's /metrics is not the Prometheus text format: %v", err)
		}
		if ready(fams) || time.Now().After(deadline) {
			return string(raw), fams
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkAgainstCatalogue checks the scrape against README.md's table, both ways: every
// dingsync_ family exported is catalogued with its type, labels and label values, and every
// catalogued metric is exported (the scenario does something that emits each). The
// temporal_, go_ and process_ groups are there too.
func checkAgainstCatalogue(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := metricscheck.ParseCatalogue(readme)
	if err != nil {
		t.Fatal(err)
	}
	defined, _, err := metricscheck.Defined(metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "dingsync_") {
			continue
		}
		i := slices.IndexFunc(entries, func(e metricscheck.Entry) bool { return e.Name == name })
		if i < 0 {
			t.Errorf("the worker exports %s, which README.md's metrics table does not list", name)
			continue
		}
		for _, p := range metricscheck.CompareEntry(entries[i], f) {
			t.Error(p)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if set, ok := entries[i].Values[l.GetName()]; ok && !slices.Contains(set, l.GetValue()) {
					t.Errorf("%s{%s=%q}: README.md lists %s's values as %v", name, l.GetName(), l.GetValue(), l.GetName(), set)
				}
			}
		}
	}
	for _, e := range entries {
		switch {
		case fams[e.Name] != nil:
		case defined[e.Name] == nil:
			t.Errorf("README.md catalogues %s, which the worker does not export and internal/metrics does not define", e.Name)
		default:
			t.Errorf("README.md catalogues %s, which internal/metrics defines but this scenario did not export: "+
				"make the scenario do what emits it", e.Name)
		}
	}
	for _, prefix := range []string{"temporal_", "go_", "process_"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(fams)), func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("the worker's /metrics has no %s* family: the registry is not shared", prefix)
		}
	}
}

// checkPromtoolLint runs `promtool check metrics` on the scrape: it must pass cleanly.
func checkPromtoolLint(t *testing.T, promtool, text string) {
	t.Helper()
	if out, err := metricscheck.Run("", text, promtool, "check", "metrics"); err != nil {
		t.Errorf("promtool check metrics on the worker's /metrics: %v\n%s", err, out)
	}
}

// highCardinalityLabel matches label names that would carry per-person or per-record values.
var highCardinalityLabel = regexp.MustCompile(`(?i)^(user_?id|union_?id|dept_?id|department(_?id)?|employee(_?id)?|user|` +
	`event_?id|run_?id|workflow_?id|request_?id|job_?number|name|mobile|phone|email|title|token|secret|ip|url)$`)

// checkNoHighCardinalityLabels fails if any family has a label named like a per-record key,
// whose values include a user's or department's id or name, or with more than 50 values.
func checkNoHighCardinalityLabels(t *testing.T, fams map[string]*dto.MetricFamily, org dingtalksim.Org) {
	t.Helper()
	personal := map[string]bool{}
	for _, u := range org.Users {
		for _, v := range []string{u.UserID, u.UnionID, u.Name, u.Mobile, u.Email, u.JobNumber} {
			if v != "" {
				personal[v] = true
			}
		}
	}
	for _, d := range org.Departments {
		personal[strconv.FormatInt(d.ID, 10)], personal[d.Name] = true, true
	}
	for name, f := range fams {
		values := map[string]map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if personal[l.GetValue()] {
					t.Errorf("%s{%s=%q}: a label carries a user's or department's id or name", name, l.GetName(), l.GetValue())
				}
				if values[l.GetName()] == nil {
					values[l.GetName()] = map[string]bool{}
				}
				values[l.GetName()][l.GetValue()] = true
			}
		}
		for label, vs := range values {
			if highCardinalityLabel.MatchString(label) {
				t.Errorf("%s has a label %q, named like a per-record key", name, label)
			}
			if len(vs) > 50 {
				t.Errorf("%s's label %q has %d values after one small sync: unbounded", name, label, len(vs))
			}
		}
	}
}

// sample is the value of the family's series with these labels (a subset match): a counter's
// or gauge's value, a histogram's sample count.
func sample(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			match = match && slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v })
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// countWhere counts the corp's series of a gauge family whose value is v.
func countWhere(f *dto.MetricFamily, corp string, v float64) int {
	n := 0
	for _, m := range f.GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "corp" && l.GetValue() == corp }) &&
			m.GetGauge().GetValue() == v {
			n++
		}
	}
	return n
}

// compare reads want as "=N", ">=N" or ">N".
func compare(v float64, want string) bool {
	op := strings.TrimRight(want, "0123456789.")
	n, err := strconv.ParseFloat(want[len(op):], 64)
	if err != nil {
		panic(want)
	}
	switch op {
	case "=":
		return v == n
	case ">=":
		return v >= n
	case ">":
		return v > n
	}
	panic(want)
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
