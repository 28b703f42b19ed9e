package activities

import (
	"context"
	"time"

	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/store"
)

// Audit holds the activities of consistency audits (the crawl is Sync.CrawlOrg's).
type Audit struct {
	Store   *store.Store
	Metrics *metrics.Metrics
}

// CompareInput names an audit run whose crawl is staged.
type CompareInput struct {
	CorpID string
	RunID  int64
}

// AuditSummary is what an audit found: counts only (the findings stay in the store).
type AuditSummary struct {
	ReportID              int64
	Drift                 map[string]int
	Total                 int
	DingTalkEmployees     int
	StoreEmployees        int
	UnreadableDepartments int
	ChangedDuringAudit    int
	// RepairByPolicy is the binding's standing order to repair drift an audit finds.
	RepairByPolicy bool
}

// CompareRun compares the audit run's staged crawl with the HR store and records the report
// (store.CompareRun), then exports the drift, the audit's time and its duration, and notifies the
// HR admins of drift.
func (a *Audit) CompareRun(ctx context.Context, in CompareInput) (AuditSummary, error) {
	stop := heartbeatEvery(ctx, 5*time.Second)
	defer stop()
	rep, err := a.Store.CompareRun(ctx, in.RunID)
	if err != nil {
		return AuditSummary{}, temporalError(err)
	}
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return AuditSummary{}, temporalError(err)
	}
	if err := a.export(ctx, rep); err != nil {
		return AuditSummary{}, err
	}
	if err := notifyDrift(ctx, a.Store, rep); err != nil {
		return AuditSummary{}, err
	}
	return AuditSummary{ReportID: rep.ID, Drift: rep.Drift, Total: rep.Drift.Total(),
		DingTalkEmployees: rep.DingTalkEmployees, StoreEmployees: rep.StoreEmployees,
		UnreadableDepartments: rep.UnreadableDepts, ChangedDuringAudit: rep.ChangedDuringAudit,
		RepairByPolicy: b.AuditRepair}, nil
}

func (a *Audit) export(ctx context.Context, rep store.AuditReport) error {
	if a.Metrics == nil {
		return nil
	}
	run, err := a.Store.GetRun(ctx, rep.RunID)
	if err != nil {
		return err
	}
	for kind, n := range rep.Drift {
		a.Metrics.AuditDrift.WithLabelValues(rep.CorpID, kind).Set(float64(n))
	}
	a.Metrics.AuditLastRun.WithLabelValues(rep.CorpID).SetToCurrentTime()
	a.Metrics.AuditDuration.Observe(run.Duration(time.Now()).Seconds())
	return nil
}

// RecordRepairInput links an audit report to the repair run that fixed its drift.
type RecordRepairInput struct {
	ReportID    int64
	RepairRunID int64
}

// RecordRepair links the report to its repair run.
func (a *Audit) RecordRepair(ctx context.Context, in RecordRepairInput) error {
	return a.Store.SetAuditRepair(ctx, in.ReportID, in.RepairRunID)
}
