// Package metrics defines dingsync's Prometheus metrics. One registry serves them and the
// Temporal SDK's metrics on the worker's /metrics. Names carry the dingsync_ prefix and base
// units; labels are bounded (kinds, statuses, API paths, corps — never user ids).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds dingsync's collectors and the registry they are registered in.
type Metrics struct {
	Registry *prometheus.Registry

	// RunsTotal counts finished sync runs by kind (full, incremental, audit, repair) and
	// final status (succeeded, partial, failed).
	RunsTotal *prometheus.CounterVec
	// RunDuration observes how long finished runs took, by kind.
	RunDuration *prometheus.HistogramVec
	// LastSuccess is the Unix time of the last successful run, by corp and kind.
	LastSuccess *prometheus.GaugeVec
	// RecordsChanged counts records written by applies, by entity and operation.
	RecordsChanged *prometheus.CounterVec
	// Failures counts failed runs and per-record failures, by kind and reason.
	Failures *prometheus.CounterVec
	// DingTalkRequests counts DingTalk API requests by API path and outcome.
	DingTalkRequests *prometheus.CounterVec
	// DingTalkLatency observes DingTalk API request latency by API path.
	DingTalkLatency *prometheus.HistogramVec
	// SyncLag observes the time from a DingTalk event to its change being in the HR store.
	SyncLag prometheus.Histogram
	// Callbacks counts DingTalk event callbacks by outcome (accepted, duplicate, bad_signature, …).
	Callbacks *prometheus.CounterVec
	// InboxBacklog is the number of accepted events not yet applied.
	InboxBacklog prometheus.Gauge
	// BindingStatus is 1 for each corp's current binding status (active, paused, quarantined,
	// credentials_invalid, …) and 0 for the statuses it has had in this process.
	BindingStatus *prometheus.GaugeVec
	// AuditDrift is the number of drift findings of the corp's latest audit, by kind
	// (store.DriftKinds: missing, extra, field_mismatch, membership_mismatch, dept_missing,
	// dept_extra, dept_wrong_parent, dept_mismatch).
	AuditDrift *prometheus.GaugeVec
	// AuditLastRun is the Unix time the corp's latest audit finished.
	AuditLastRun *prometheus.GaugeVec
	// AuditDuration observes how long audits took, from start to report.
	AuditDuration prometheus.Histogram
	// Rotations counts credential rotations by what was rotated (app_secret, callback) and
	// result (succeeded, rolled_back).
	Rotations *prometheus.CounterVec
	// Notifications counts work notifications to HR admins by kind (run_failed,
	// binding_quarantined, deletions_awaiting, audit_drift, credentials_invalid) and final
	// result (sent, failed, dropped).
	Notifications *prometheus.CounterVec
	// EHRWrites counts eHR changes pushed to DingTalk by op (update, create, dept_create, dept_update) and result
	// (pushed, failed).
	EHRWrites *prometheus.CounterVec

	bindingMu     sync.Mutex
	shownStatuses map[string]map[string]bool // corp → statuses exported for it
}

// New builds the collectors in a fresh registry, with Go and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		RunsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_sync_runs_total", Help: "Finished sync runs by kind and final status.",
		}, []string{"kind", "status"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dingsync_sync_run_duration_seconds", Help: "Duration of finished sync runs.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14),
		}, []string{"kind"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dingsync_sync_last_success_timestamp_seconds", Help: "Unix time of the last successful run.",
		}, []string{"corp", "kind"}),
		RecordsChanged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_records_changed_total", Help: "Records written to the HR store, by entity and operation.",
		}, []string{"entity", "op"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_sync_failures_total", Help: "Failed runs and per-record failures, by kind and reason.",
		}, []string{"kind", "reason"}),
		DingTalkRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_dingtalk_requests_total", Help: "DingTalk API requests by API and outcome (ok, throttled, auth, ...).",
		}, []string{"api", "outcome"}),
		DingTalkLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dingsync_dingtalk_request_duration_seconds", Help: "DingTalk API request latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"api"}),
		SyncLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dingsync_sync_lag_seconds", Help: "Time from a DingTalk event to its change being applied to the HR store.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}),
		Callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_callbacks_total", Help: "DingTalk event callbacks by outcome.",
		}, []string{"outcome"}),
		InboxBacklog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dingsync_inbox_backlog", Help: "Accepted DingTalk events not yet applied.",
		}),
		BindingStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dingsync_binding_status", Help: "1 for each corp's current binding status, 0 for its former ones.",
		}, []string{"corp", "status"}),
		AuditDrift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dingsync_audit_drift_records", Help: "Drift findings of the corp's latest consistency audit, by kind.",
		}, []string{"corp", "kind"}),
		AuditLastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dingsync_audit_last_run_timestamp_seconds", Help: "Unix time the corp's latest consistency audit finished.",
		}, []string{"corp"}),
		AuditDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dingsync_audit_duration_seconds", Help: "Duration of consistency audits, from start to report.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14),
		}),
		Rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_credential_rotations_total", Help: "Credential rotations by credential and result.",
		}, []string{"credential", "result"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_notifications_total", Help: "Work notifications to HR admins by kind and final result.",
		}, []string{"kind", "result"}),
		EHRWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dingsync_ehr_writes_total", Help: "eHR changes pushed to DingTalk by op and result.",
		}, []string{"op", "result"}),
	}
	reg.MustRegister(m.RunsTotal, m.RunDuration, m.LastSuccess, m.RecordsChanged, m.Failures,
		m.DingTalkRequests, m.DingTalkLatency, m.SyncLag, m.Callbacks, m.InboxBacklog,
		m.BindingStatus, m.AuditDrift, m.AuditLastRun, m.AuditDuration, m.Rotations, m.Notifications, m.EHRWrites)
	// Every op and result is exported from the start (at 0), so rates and alerts see the first push.
	for _, op := range []string{"update", "create", "dept_create", "dept_update"} {
		for _, result := range []string{"pushed", "failed"} {
			m.EHRWrites.WithLabelValues(op, result)
		}
	}
	return m
}

// ObserveRequest records one DingTalk request; it makes Metrics a dingtalk.Observer.
func (m *Metrics) ObserveRequest(api, outcome string, d time.Duration) {
	m.DingTalkRequests.WithLabelValues(api, outcome).Inc()
	m.DingTalkLatency.WithLabelValues(api).Observe(d.Seconds())
}

// SetBindingStatuses sets dingsync_binding_status from each corp's current status: 1 for it,
// 0 for every other status the corp has shown.
func (m *Metrics) SetBindingStatuses(current map[string]string) {
	m.bindingMu.Lock()
	defer m.bindingMu.Unlock()
	if m.shownStatuses == nil {
		m.shownStatuses = map[string]map[string]bool{}
	}
	for corp, status := range current {
		shown := m.shownStatuses[corp]
		if shown == nil {
			shown = map[string]bool{}
			m.shownStatuses[corp] = shown
		}
		shown[status] = true
		for s := range shown {
			v := 0.0
			if s == status {
				v = 1
			}
			m.BindingStatus.WithLabelValues(corp, s).Set(v)
		}
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
