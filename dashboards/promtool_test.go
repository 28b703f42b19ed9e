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

	"github.com/dingsync/dingsync/internal/metricscheck"
)

// TestDashboardQueriesParse feeds every dashboard expression (Grafana variables expanded) to
// Prometheus's own parser, as recording rules checked by `promtool check rules`.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := metricscheck.Tool(t, "promtool")
	var rules []map[string]string
	var where []string
	for _, f := range dashboardFiles {
		qs, err := dashboardQueries(f, readFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query_%d", len(rules)),
				"expr": metricscheck.ExpandGrafanaVars(q.expr)})
			where = append(where, q.where)
		}
	}
	raw, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboards.rules.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := metricscheck.Run("", "", promtool, "check", "rules", path); err != nil {
		t.Fatalf("promtool check rules on the dashboards' queries: %v\n%s\nquery_N is the N-th of %q", err, out, where)
	}
}

// TestAlertRules checks alerts.yml with promtool, runs its unit tests (alerts_test.yml), and
// checks that the alerts ops rely on exist, each with a severity, a summary and a description.
func TestAlertRules(t *testing.T) {
	promtool := metricscheck.Tool(t, "promtool")
	if out, err := metricscheck.Run(".", "", promtool, "check", "rules", "alerts.yml"); err != nil {
		t.Errorf("promtool check rules alerts.yml: %v\n%s", err, out)
	}
	if out, err := metricscheck.Run(".", "", promtool, "test", "rules", "alerts_test.yml"); err != nil {
		t.Errorf("promtool test rules alerts_test.yml: %v\n%s", err, out)
	}
	var names []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a summary and a description", r.Alert)
			}
		}
	}
	for _, want := range []string{"DingsyncSyncFailing", "DingsyncSyncLagHigh", "DingsyncNoRecentFullSync",
		"DingsyncCredentialsInvalid", "DingsyncAuditDrift", "DingsyncBindingQuarantined"} {
		if !slices.Contains(names, want) {
			t.Errorf("alerts.yml has no %s alert", want)
		}
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(readFile(t, "alerts_test.yml"), &tests); err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			tested[a.Alertname] = true
		}
	}
	if len(tested) < 4 {
		t.Errorf("alerts_test.yml tests %d alerts, want at least 4", len(tested))
	}
}

// dashboard is the part of a Grafana dashboard model the structure test reads.
type dashboard struct {
	UID, Title string
	Panels     []panel
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Datasource *datasource
		}
	}
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *datasource
	GridPos    *struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		Expr       string
		Datasource *datasource
	}
	Panels []panel // a collapsed row's
}

type datasource struct{ Type, UID string }

// TestDashboardsStructure checks what Grafana needs to provision the dashboards and what makes
// them portable: unique uids and panel ids, every query on the ${ds} Prometheus variable, and
// corp.json's queries filtered by its corp variable (except its fleet-context panels).
func TestDashboardsStructure(t *testing.T) {
	uids := map[string]bool{}
	for _, f := range dashboardFiles {
		var d dashboard
		if err := json.Unmarshal(readFile(t, f), &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || uids[d.UID] {
			t.Errorf("%s: uid %q, title %q: want a unique uid and a title", f, d.UID, d.Title)
		}
		uids[d.UID] = true
		vars := map[string]string{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v.Type
		}
		if vars["ds"] != "datasource" {
			t.Errorf("%s: no datasource variable ds", f)
		}
		if f == "corp.json" && vars["corp"] != "query" {
			t.Errorf("corp.json: no query variable corp")
		}
		ids := map[int]bool{}
		for _, p := range flatten(d.Panels) {
			if ids[p.ID] || p.GridPos == nil || p.Title == "" {
				t.Errorf("%s: panel %d %q: want a unique id, a title and a gridPos", f, p.ID, p.Title)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${ds}" || len(p.Targets) == 0 {
				t.Errorf("%s: panel %q: want datasource ${ds} and at least one query", f, p.Title)
			}
			for _, q := range p.Targets {
				if q.Datasource == nil || q.Datasource.UID != "${ds}" {
					t.Errorf("%s: panel %q: a query not on datasource ${ds}", f, p.Title)
				}
				if f == "corp.json" && !strings.HasPrefix(p.Title, "Fleet: ") && !strings.Contains(q.Expr, `corp="$corp"`) {
					t.Errorf("corp.json: panel %q: %q is not filtered by corp=\"$corp\" (title fleet-wide panels \"Fleet: …\")", p.Title, q.Expr)
				}
			}
		}
	}
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}
