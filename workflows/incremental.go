package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// KindIncremental is the SyncKind of incremental syncs (and sync_runs.kind).
const KindIncremental = "incremental"

// IncrementalWorkflowID is the id of corpID's incremental sync.
func IncrementalWorkflowID(corpID string) string { return "incsync/" + corpID }

// SignalEventsArrived wakes a corp's incremental sync: events wait in the inbox.
const SignalEventsArrived = "events-arrived"

// SignalDrainFailedPushes asks a corp's incremental sync to fetch the events DingTalk failed
// to push now, rather than at its next periodic drain.
const SignalDrainFailedPushes = "drain-failed-pushes"

// Incremental sync tuning.
const (
	batchWindow          = 100 * time.Millisecond // wait after a wake for more events to batch
	maxBatchEvents       = 2000
	continueAsNewEvents  = 5000
	fullSyncPollInterval = 2 * time.Second
	// failedPushInterval paces the periodic drain of DingTalk's failed-push list: that API
	// counts against the standard edition's 5,000 calls a month, so not more often.
	failedPushInterval = 15 * time.Minute
)

// IncrementalInput starts (or continues) a corp's incremental sync.
type IncrementalInput struct {
	CorpID string
	// Applied counts events applied since the last continue-as-new.
	Applied int
}

// IncrementalSync applies a corp's DingTalk events. The receiver stores each event in the
// inbox and signals this workflow; it batches what is pending (by size or a short window)
// and runs each batch as a child workflow whose input is its event ids, one at a time, so
// events for a user apply in order and a failed batch can be reset from the UI. While a full
// sync of the corp runs, events wait and apply after it.
func IncrementalSync(ctx workflow.Context, in IncrementalInput) error {
	if in.CorpID == "" {
		return temporal.NewNonRetryableApplicationError("incremental sync needs a corp id", ErrTypeInvalidInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindIncremental)); err != nil {
		return err
	}
	wake := workflow.GetSignalChannel(ctx, SignalEventsArrived)
	drainNow := workflow.GetSignalChannel(ctx, SignalDrainFailedPushes)
	var act *activities.Incremental
	drainFailedPushes(ctx, in.CorpID)
	batchNo := 0
	for {
		var pending activities.PendingResult
		err := workflow.ExecuteLocalActivity(localActivity(ctx), act.PendingEvents,
			activities.PendingInput{CorpID: in.CorpID, Limit: maxBatchEvents}).Get(ctx, &pending)
		if err != nil {
			return err
		}
		switch {
		case pending.FullSyncRunning:
			_ = workflow.Sleep(ctx, fullSyncPollInterval)
			continue
		case len(pending.EventIDs) == 0:
			if in.Applied >= continueAsNewEvents || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				drain(wake)
				return workflow.NewContinueAsNewError(ctx, IncrementalSync, IncrementalInput{CorpID: in.CorpID})
			}
			if waitForWork(ctx, wake, drainNow) {
				drainFailedPushes(ctx, in.CorpID)
			}
			drain(wake)
			_ = workflow.Sleep(ctx, batchWindow)
			continue
		}
		batchNo++
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("incbatch/%s/%s/%d", in.CorpID, workflow.GetInfo(ctx).WorkflowExecution.RunID, batchNo),
			TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(in.CorpID),
				SyncKindAttribute.ValueSet(KindIncremental)),
		})
		err = workflow.ExecuteChildWorkflow(cctx, IncrementalBatch,
			IncrementalBatchInput{CorpID: in.CorpID, EventIDs: pending.EventIDs}).Get(ctx, nil)
		if err != nil {
			// The batch failed (visible in the UI, resettable): its events stay pending. Back
			// off before retrying them, so a broken credential does not spin.
			workflow.GetLogger(ctx).Error("event batch failed", "corp", in.CorpID, "error", err)
			_ = workflow.Sleep(ctx, time.Minute)
			continue
		}
		in.Applied += len(pending.EventIDs)
	}
}

// waitForWork blocks until events arrive, a drain is asked for, or the periodic drain is due;
// it reports whether to drain DingTalk's failed-push list.
func waitForWork(ctx workflow.Context, wake, drainNow workflow.ReceiveChannel) (drainFailed bool) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	s := workflow.NewSelector(ctx)
	s.AddReceive(wake, func(workflow.ReceiveChannel, bool) {})
	s.AddReceive(drainNow, func(c workflow.ReceiveChannel, _ bool) { drain(c); drainFailed = true })
	s.AddFuture(workflow.NewTimer(tctx, failedPushInterval), func(workflow.Future) { drainFailed = true })
	s.Select(ctx)
	return drainFailed
}

// drainFailedPushes moves DingTalk's failed pushes into the inbox. A failure is logged and
// left for the next drain: pushed events keep flowing meanwhile. When the drain finds an
// earlier one never finished (a killed worker may have lost a page DingTalk handed out), a
// repair sync of the corp is started: the events wait while it runs.
func drainFailedPushes(ctx workflow.Context, corpID string) {
	var act *activities.Incremental
	var res activities.DrainResult
	if err := workflow.ExecuteActivity(shortActivity(ctx), act.DrainFailedPushes,
		activities.CorpInput{CorpID: corpID}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("drain failed pushes", "corp", corpID, "error", err)
	}
	if res.Interrupted {
		startLostEventsRepair(ctx, corpID)
	}
}

// startLostEventsRepair starts a full sync of kind repair under the corp's full-sync id and
// leaves it running (it outlives a continue-as-new). One already running is left to do it.
func startLostEventsRepair(ctx workflow.Context, corpID string) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        FullSyncWorkflowID(corpID),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(corpID),
			SyncKindAttribute.ValueSet(KindRepair)),
	})
	err := workflow.ExecuteChildWorkflow(cctx, FullSync, FullSyncInput{CorpID: corpID, Kind: KindRepair,
		Trigger: "interrupted failed-push drain"}).GetChildWorkflowExecution().Get(ctx, nil)
	switch {
	case err == nil:
		workflow.GetLogger(ctx).Warn("an earlier drain of failed pushes was interrupted: repair sync started", "corp", corpID)
	case !temporal.IsWorkflowExecutionAlreadyStartedError(err):
		workflow.GetLogger(ctx).Error("start the repair sync after an interrupted drain", "corp", corpID, "error", err)
	}
}

// drain empties a signal channel without blocking.
func drain(ch workflow.ReceiveChannel) {
	for ch.ReceiveAsync(nil) {
	}
}

// IncrementalBatchInput names one batch of events.
type IncrementalBatchInput struct {
	CorpID   string
	EventIDs []string
}

// IncrementalBatchResult counts what a batch did.
type IncrementalBatchResult struct {
	RunID   int64
	Events  int
	Applied activities.ApplyResult
	// Approvals counts the re-reads of the approval instances the batch's
	// bpms_instance_change events named.
	Approvals activities.ImportCounts
}

// versionApprovalEvents marks batches that re-read the approval instances their events name
// before they apply (batches recorded before it apply only).
const versionApprovalEvents = "approval-events"

// refreshApprovals re-reads the approval instances the batch's bpms_instance_change events
// name, with the import's own activity, before ApplyEvents marks the batch's events applied. A
// batch without approval events costs one local activity.
func refreshApprovals(ctx workflow.Context, in IncrementalBatchInput) (activities.ImportCounts, error) {
	var counts activities.ImportCounts
	if workflow.GetVersion(ctx, versionApprovalEvents, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return counts, nil
	}
	var inc *activities.Incremental
	var refs activities.ApprovalRefsResult
	err := workflow.ExecuteLocalActivity(localActivity(ctx), inc.ApprovalRefs,
		activities.ApprovalRefsInput{CorpID: in.CorpID, EventIDs: in.EventIDs}).Get(ctx, &refs)
	if err != nil || len(refs.Instances) == 0 {
		return counts, err
	}
	var imp *activities.Imports
	err = workflow.ExecuteActivity(importActivity(ctx), imp.RefreshOpenApprovals,
		activities.RefreshApprovalsInput{CorpID: in.CorpID, Instances: refs.Instances}).Get(ctx, &counts)
	return counts, err
}

// partialBatchReason says what a batch could not do: records it could not read, and the
// approval instances it could not re-read (left to the next import run, which re-reads every
// instance still open, so contact events never wait on the approval permission).
func partialBatchReason(recordErrors int, runID int64, refreshErr error) string {
	var parts []string
	if recordErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d records could not be read (see sync_errors of run %d)", recordErrors, runID))
	}
	if refreshErr != nil {
		parts = append(parts, "the approval instances the batch's bpms_instance_change events name could not be re-read ("+
			FailureMessage(refreshErr)+"); the next approvals import re-reads them (`starter import approvals --corp-id C --wait` runs one now)")
	}
	return strings.Join(parts, "; ")
}

// IncrementalBatch applies one batch of events as a sync run of kind incremental: first the
// approval instances its bpms_instance_change events name are re-read (refreshApprovals), then
// the users and departments its contact events name. A failed re-read leaves the run partial
// but never holds the contact events back.
func IncrementalBatch(ctx workflow.Context, in IncrementalBatchInput) (IncrementalBatchResult, error) {
	if in.CorpID == "" || len(in.EventIDs) == 0 {
		return IncrementalBatchResult{}, temporal.NewNonRetryableApplicationError("an event batch needs a corp id and event ids", ErrTypeInvalidInput, nil)
	}
	var sync *activities.Sync
	var inc *activities.Incremental
	var started activities.StartRunResult
	err := workflow.ExecuteLocalActivity(localActivity(ctx), sync.StartRun,
		activities.StartRunInput{CorpID: in.CorpID, Kind: KindIncremental, Trigger: "events"}).Get(ctx, &started)
	if err != nil {
		return IncrementalBatchResult{}, err
	}
	res := IncrementalBatchResult{RunID: started.RunID, Events: len(in.EventIDs)}
	var applied activities.ApplyEventsResult
	var refreshErr error
	res.Approvals, refreshErr = refreshApprovals(ctx, in)
	err = workflow.ExecuteActivity(applyActivity(ctx), inc.ApplyEvents,
		activities.ApplyEventsInput{CorpID: in.CorpID, RunID: started.RunID, EventIDs: in.EventIDs}).Get(ctx, &applied)
	res.Applied = applied.Applied
	finish := activities.FinishRunInput{CorpID: in.CorpID, RunID: started.RunID, Kind: KindIncremental,
		Status: store.RunSucceeded, Applied: applied.Applied}
	if err == nil && (applied.Applied.RecordErrors > 0 || refreshErr != nil) {
		finish.Status, finish.Reason = store.RunPartial, partialBatchReason(applied.Applied.RecordErrors, started.RunID, refreshErr)
	}
	if err != nil {
		finish.Status, finish.Reason = store.RunFailed, FailureMessage(err)
		finish.BindingStatus, finish.ErrorType = bindingStatusAfterFailure(err)
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if ferr := workflow.ExecuteLocalActivity(localActivity(dctx), sync.FinishRun, finish).Get(dctx, nil); ferr != nil && err == nil {
		err = ferr
	}
	return res, surfaced(err)
}
