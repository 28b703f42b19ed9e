// Package activities holds dingsync's Temporal activities: the steps that talk to DingTalk and
// to the Postgres HR store. Each group is a struct whose fields are its dependencies.
package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Sync holds the activities of full syncs.
type Sync struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Metrics  *metrics.Metrics
	// CrawlConcurrency bounds DingTalk requests in flight per crawl (0: the crawler's default).
	CrawlConcurrency int
}

// StartRunInput names the corp and what started the run.
type StartRunInput struct {
	CorpID  string
	Kind    string
	Trigger string
}

// StartRunResult carries the sync_runs id.
type StartRunResult struct {
	RunID int64
}

// StartRun records the run in sync_runs (idempotent per workflow execution) and, for a full
// or repair sync, marks the binding as syncing. A paused or unbound corp is refused.
func (a *Sync) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return StartRunResult{}, temporalError(err)
	}
	if b.Status == store.BindingPaused || b.Status == store.BindingUnbound {
		return StartRunResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("corp %q is %s: resume or bind it before syncing", in.CorpID, b.Status), ErrTypeBindingInactive, nil)
	}
	info := activity.GetInfo(ctx)
	id, err := a.Store.StartRun(ctx, store.StartRunInput{CorpID: in.CorpID, Kind: in.Kind, Trigger: in.Trigger,
		WorkflowID: info.WorkflowExecution.ID, TemporalRunID: info.WorkflowExecution.RunID})
	if err != nil {
		return StartRunResult{}, temporalError(err)
	}
	if in.Kind == "full" || in.Kind == "repair" {
		if err := a.Store.SetBindingStatus(ctx, in.CorpID, store.BindingSyncing, ""); err != nil {
			return StartRunResult{}, err
		}
	}
	return StartRunResult{RunID: id}, nil
}

// FinishRunInput is a run's outcome.
type FinishRunInput struct {
	CorpID    string
	RunID     int64
	Kind      string
	Status    string // store.RunSucceeded, RunPartial or RunFailed
	Reason    string // why a run failed or is partial
	ErrorType string // the application error type of a failed run, for metrics
	DecidedBy string // who approved or rejected held deletions
	Applied   ApplyResult
	// BindingStatus is what the binding becomes (active, quarantined, credentials_invalid).
	BindingStatus string
}

// FinishRun records the run's outcome, moves the binding to its new status, writes the HR
// admins' notification of a failed run, and exports the run's metrics.
func (a *Sync) FinishRun(ctx context.Context, in FinishRunInput) error {
	if err := a.Store.FinishRun(ctx, in.RunID, in.Status, in.Reason, in.DecidedBy); err != nil {
		return err
	}
	switch {
	case in.BindingStatus != "":
		if err := a.Store.SetBindingStatus(ctx, in.CorpID, in.BindingStatus, in.Reason); err != nil {
			return temporalError(err)
		}
	case in.Status != store.RunFailed:
		if err := a.Store.RecoverCredentials(ctx, in.CorpID); err != nil {
			return err
		}
	}
	run, err := a.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return err
	}
	if err := notifyFailedRun(ctx, a.Store, in); err != nil {
		return err
	}
	a.exportRun(run, in)
	return nil
}

func (a *Sync) exportRun(run store.Run, in FinishRunInput) {
	if a.Metrics == nil {
		return
	}
	m := a.Metrics
	m.RunsTotal.WithLabelValues(in.Kind, in.Status).Inc()
	m.RunDuration.WithLabelValues(in.Kind).Observe(run.Duration(time.Now()).Seconds())
	if in.Status == store.RunSucceeded {
		m.LastSuccess.WithLabelValues(in.CorpID, in.Kind).SetToCurrentTime()
	}
	if in.Status == store.RunFailed {
		reason := in.ErrorType
		if reason == "" {
			reason = "other"
		}
		m.Failures.WithLabelValues(in.Kind, reason).Inc()
	}
	if in.Applied.RecordErrors > 0 {
		m.Failures.WithLabelValues(in.Kind, "record").Add(float64(in.Applied.RecordErrors))
	}
	for op, n := range map[string]int{"create": in.Applied.Created, "update": in.Applied.Updated,
		"deactivate": in.Applied.Deactivated} {
		if n > 0 {
			m.RecordsChanged.WithLabelValues("employee", op).Add(float64(n))
		}
	}
	if in.Applied.DepartmentsChanged > 0 {
		m.RecordsChanged.WithLabelValues("department", "upsert").Add(float64(in.Applied.DepartmentsChanged))
	}
}

// OpenCredential decrypts corpID's active credential of kind and returns it with its version.
func OpenCredential(ctx context.Context, st *store.Store, box *secretbox.Box, corpID, kind string) (string, int, error) {
	cred, err := st.ActiveCredential(ctx, corpID, kind)
	if err != nil {
		return "", 0, err
	}
	secret, err := box.Open(cred.Ciphertext, store.SealContext(corpID, cred.Kind, cred.Version))
	return secret, cred.Version, err
}

// loadApp decrypts corpID's active AppSecret into the App the DingTalk client needs. Only
// activities call it; the App never leaves the activity.
func loadApp(ctx context.Context, st *store.Store, box *secretbox.Box, corpID string) (dingtalk.App, error) {
	b, err := st.GetBinding(ctx, corpID)
	if err != nil {
		return dingtalk.App{}, err
	}
	secret, version, err := OpenCredential(ctx, st, box, corpID, store.CredentialAppSecret)
	if err != nil {
		return dingtalk.App{}, err
	}
	return dingtalk.App{CorpID: corpID, AppKey: b.AppKey, AppSecret: secret, CredentialVersion: version}, nil
}
