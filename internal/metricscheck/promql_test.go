package metricscheck

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`dingsync_inbox_backlog`, "dingsync_inbox_backlog"},
		{`sum by (kind, status) (increase(dingsync_sync_runs_total{status!="succeeded"}[1h]))`, "dingsync_sync_runs_total"},
		{`histogram_quantile(0.99, sum without (instance) (rate(dingsync_sync_lag_seconds_bucket[5m:1m])))`, "dingsync_sync_lag_seconds_bucket"},
		{`time() - max by (corp) (max_over_time(a_seconds{kind="full"}[7d])) > 26 * 3600 and on (corp) b{status="active"} == bool 1`, "a_seconds b"},
		{`sum(rate(x_total[5m] offset 1h)) / ignoring (le) group_left (api) y`, "x_total y"},
		{`label_replace(up_metric, "dst", "$1", "src", "(by|on)")`, "up_metric"},
		{"1e-3 * z\n# a comment naming not_a_metric\n", "z"},
		{`vector(0) or absent(q{a="b}c"})`, "q"},
	} {
		got, err := MetricNames(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if want := splitWords(c.want); !slices.Equal(got, want) {
			t.Errorf("MetricNames(%q) = %q, want %q", c.expr, got, want)
		}
	}
	if _, err := MetricNames(`{__name__="x"}`); err == nil {
		t.Error("a __name__ selector was accepted")
	}
}

func TestExpandGrafanaVars(t *testing.T) {
	got := ExpandGrafanaVars(`rate(a{corp="$corp", x="${ds}"}[$__rate_interval]) offset ${__range}`)
	if want := `rate(a{corp="x", x="x"}[5m]) offset 5m`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if sel, ok := LabelValuesQuery(`label_values(dingsync_binding_status{status="active"}, corp)`); !ok || sel != `dingsync_binding_status{status="active"}` {
		t.Errorf("LabelValuesQuery = %q, %v", sel, ok)
	}
}

func splitWords(s string) []string {
	var out []string
	word := ""
	for _, r := range s + " " {
		if r == ' ' {
			if word != "" {
				out = append(out, word)
			}
			word = ""
			continue
		}
		word += string(r)
	}
	return out
}
