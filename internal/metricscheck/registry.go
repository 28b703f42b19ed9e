package metricscheck

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dingsync/dingsync/internal/metrics"
)

// Defined returns every metric family m's registry can export: it touches each labelled
// collector of m once (with placeholder label values, so a Vec that no code has used yet
// shows up too) and gathers. It also returns how many collector fields m has, so a caller
// can tell that none was missed.
func Defined(m *metrics.Metrics) (map[string]*dto.MetricFamily, int, error) {
	collectorType := reflect.TypeFor[prometheus.Collector]()
	registryType := reflect.TypeFor[*prometheus.Registry]() // a Collector too, but of the others
	v := reflect.ValueOf(m).Elem()
	fields := 0
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || !f.Type().Implements(collectorType) || f.Type() == registryType {
			continue
		}
		fields++
		get := f.MethodByName("GetMetricWithLabelValues")
		if !get.IsValid() {
			continue // a plain Counter, Gauge or Histogram: always exported
		}
		if err := touch(get); err != nil {
			return nil, 0, fmt.Errorf("metrics.%s: %w", v.Type().Field(i).Name, err)
		}
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		return nil, 0, err
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out, fields, nil
}

// touch calls a Vec's GetMetricWithLabelValues with as many placeholder values as it takes.
func touch(get reflect.Value) error {
	for n := 0; n <= 16; n++ {
		args := make([]reflect.Value, n)
		for i := range args {
			args[i] = reflect.ValueOf("placeholder")
		}
		if out := get.Call(args); out[1].IsNil() {
			return nil
		}
	}
	return fmt.Errorf("no label count between 0 and 16 fits")
}

// Parse reads the Prometheus text format (a /metrics scrape) into metric families by name.
func Parse(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(r)
}

// SeriesNames are the series names the families put into Prometheus: a histogram H is
// H_bucket, H_sum and H_count, a summary H, H_sum and H_count, anything else its own name.
func SeriesNames(fams map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

// LabelNames are the label names a family's series carry (le and quantile excluded), sorted.
func LabelNames(f *dto.MetricFamily) []string {
	set := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			set[l.GetName()] = true
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TypeName is a family's type as the catalogue writes it (counter, gauge, histogram, ...).
func TypeName(f *dto.MetricFamily) string {
	return strings.ToLower(f.GetType().String())
}

// CompareEntry lists how a family differs from its catalogue entry: type and label names.
func CompareEntry(e Entry, f *dto.MetricFamily) []string {
	var problems []string
	if got := TypeName(f); got != e.Type {
		problems = append(problems, fmt.Sprintf("%s is a %s, the README says %s", e.Name, got, e.Type))
	}
	want := slices.Sorted(slices.Values(e.Labels))
	if got := LabelNames(f); len(f.GetMetric()) > 0 && !slices.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("%s has labels %v, the README says %v", e.Name, got, want))
	}
	return problems
}
