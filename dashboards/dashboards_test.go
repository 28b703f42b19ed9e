package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/metricscheck"
)

// dashboardFiles are the Grafana dashboards Grafana provisions from this directory.
var dashboardFiles = []string{"fleet.json", "corp.json"}

// query is one PromQL expression and where it is.
type query struct{ where, expr string }

// dashboardQueries returns every PromQL expression in a dashboard: each "expr" anywhere in the
// JSON, and the selector of each label_values(…) variable query.
func dashboardQueries(file string, raw []byte) ([]query, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []query
	var walk func(path string, v any) error
	walk = func(path string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && (k == "expr" || (k == "query" && strings.Contains(path, "templating"))) {
					if k == "query" {
						sel, ok := metricscheck.LabelValuesQuery(s)
						if !ok {
							if v["type"] == "datasource" {
								continue
							}
							return fmt.Errorf("%s%s.query %q: use label_values(selector, label)", file, path, s)
						}
						s = sel
					}
					out = append(out, query{where: file + path + "." + k, expr: s})
					continue
				}
				if err := walk(path+"."+k, child); err != nil {
					return err
				}
			}
		case []any:
			for i, child := range v {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk("", doc)
	slices.SortFunc(out, func(a, b query) int { return strings.Compare(a.where, b.where) })
	return out, err
}

// alertRules is the part of a Prometheus rule file the tests read.
type alertRules struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Record, Expr string
			Labels              map[string]string
			Annotations         map[string]string
		}
	}
}

func readRules(t *testing.T) alertRules {
	t.Helper()
	var rules alertRules
	if err := yaml.Unmarshal(readFile(t, "alerts.yml"), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	return rules
}

func ruleQueries(rules alertRules) []query {
	var out []query
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, query{where: "alerts.yml " + g.Name + "/" + r.Alert + r.Record, expr: r.Expr})
		}
	}
	return out
}

// allQueries returns every expression of the dashboards and alert rules, by file.
func allQueries(t *testing.T, read func(string) []byte) map[string][]query {
	t.Helper()
	out := map[string][]query{}
	for _, f := range dashboardFiles {
		qs, err := dashboardQueries(f, read(f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = qs
	}
	var rules alertRules
	if err := yaml.Unmarshal(read("alerts.yml"), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	out["alerts.yml"] = ruleQueries(rules)
	return out
}

// checkNames lists the expressions that select no metric or a metric the code does not
// export, and returns the families each file's queries use.
func checkNames(byFile map[string][]query) (used map[string]map[string]bool, problems []string) {
	defined, _, err := metricscheck.Defined(metrics.New())
	if err != nil {
		return nil, []string{err.Error()}
	}
	series := metricscheck.SeriesNames(defined)
	used = map[string]map[string]bool{}
	for file, qs := range byFile {
		used[file] = map[string]bool{}
		if len(qs) == 0 {
			problems = append(problems, file+" has no queries")
		}
		for _, q := range qs {
			names, err := metricscheck.MetricNames(metricscheck.ExpandGrafanaVars(q.expr))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", q.where, err))
				continue
			}
			if len(names) == 0 {
				problems = append(problems, fmt.Sprintf("%s: %q selects no metric", q.where, q.expr))
			}
			for _, n := range names {
				if !series[n] {
					problems = append(problems, fmt.Sprintf("%s: %s is not a series the code exports (%q)", q.where, n, q.expr))
					continue
				}
				used[file][familyOf(n, defined)] = true
			}
		}
	}
	return used, problems
}

// familyOf maps a series name (h_bucket) to its family (h).
func familyOf[V any](series string, families map[string]V) string {
	if _, ok := families[series]; ok {
		return series
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if f := strings.TrimSuffix(series, suffix); f != series {
			if _, ok := families[f]; ok {
				return f
			}
		}
	}
	return series
}

// TestQueriesUseOnlyExportedMetrics: every metric a dashboard or alert queries is one the code
// exports (from metrics.New()'s registry, histograms as _bucket/_sum/_count), and the fleet
// dashboard shows every dingsync_ metric.
func TestQueriesUseOnlyExportedMetrics(t *testing.T) {
	used, problems := checkNames(allQueries(t, func(f string) []byte { return readFile(t, f) }))
	for _, p := range problems {
		t.Error(p)
	}
	defined, _, err := metricscheck.Defined(metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	for name := range defined {
		if strings.HasPrefix(name, "dingsync_") && !used["fleet.json"][name] {
			t.Errorf("fleet.json has no panel for %s", name)
		}
	}
}

// TestNameCheckCatchesMistakes: the check above fails on a misspelt metric in a dashboard, an
// SDK-style name the code does not export, and a query that names no metric.
func TestNameCheckCatchesMistakes(t *testing.T) {
	for _, c := range []struct{ file, find, replace, want string }{
		{"fleet.json", "dingsync_sync_runs_total", "dingsync_sync_run_total", "dingsync_sync_run_total is not a series"},
		{"corp.json", "dingsync_binding_status{", "dingsync_binding_state{", "dingsync_binding_state is not a series"},
		{"alerts.yml", "dingsync_sync_lag_seconds_bucket", "dingsync_sync_lag_seconds", "dingsync_sync_lag_seconds is not a series"},
		{"alerts.yml", "max(dingsync_inbox_backlog)", "max(temporal_workflow_task_queue_poll_empty)", "temporal_workflow_task_queue_poll_empty is not a series"},
		{"fleet.json", `"max(dingsync_inbox_backlog)"`, `"vector(1)"`, "selects no metric"},
	} {
		read := func(f string) []byte {
			raw := readFile(t, f)
			if f == c.file {
				if !strings.Contains(string(raw), c.find) {
					t.Fatalf("%s has no %q to change", f, c.find)
				}
				raw = []byte(strings.Replace(string(raw), c.find, c.replace, 1))
			}
			return raw
		}
		_, problems := checkNames(allQueries(t, read))
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s with %q → %q: problems %q, want one containing %q", c.file, c.find, c.replace, problems, c.want)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(".", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
