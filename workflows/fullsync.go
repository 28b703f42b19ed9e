package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// maxRecordFailureRatio is the share of departments that may fail to be read before a run
// fails instead of ending partial, and the binding is quarantined.
const maxRecordFailureRatio = 0.4

// defaultApprovalTimeout bounds the wait for a decision on held deletions.
const defaultApprovalTimeout = 72 * time.Hour

// FullSync copies a corp's whole DingTalk org chart into the HR store: StartRun, a crawl into
// staging, one transactional apply (held for an operator's approval when it would deactivate
// too many people), FinishRun.
func FullSync(ctx workflow.Context, in FullSyncInput) (FullSyncResult, error) {
	s, err := newFullSync(ctx, in)
	if err != nil {
		return FullSyncResult{}, err
	}
	return s.run(ctx)
}

type fullSync struct {
	in       FullSyncInput
	act      *activities.Sync
	res      FullSyncResult
	phase    string
	decision *DeletionDecision
}

func newFullSync(ctx workflow.Context, in FullSyncInput) (*fullSync, error) {
	if in.CorpID == "" {
		return nil, temporal.NewNonRetryableApplicationError("full sync needs a corp id", ErrTypeInvalidInput, nil)
	}
	if in.Trigger == "" {
		in.Trigger = "manual"
	}
	if in.Kind == "" {
		in.Kind = KindFull
	}
	if in.Kind != KindFull && in.Kind != KindRepair {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("a full sync is of kind %q or %q, not %q", KindFull, KindRepair, in.Kind),
			ErrTypeInvalidInput, nil)
	}
	if in.ApprovalTimeout <= 0 {
		in.ApprovalTimeout = defaultApprovalTimeout
	}
	s := &fullSync{in: in, phase: PhaseStarting}
	err := workflow.SetQueryHandler(ctx, QueryProgress, func() (FullSyncProgress, error) {
		return FullSyncProgress{RunID: s.res.RunID, Phase: s.phase, PendingDeletions: s.res.PendingDeletions}, nil
	})
	if err != nil {
		return nil, err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecideDeletions,
		func(ctx workflow.Context, d DeletionDecision) (string, error) {
			s.decision = &d
			if d.Approve {
				return fmt.Sprintf("approved %d deactivations", s.res.PendingDeletions), nil
			}
			return fmt.Sprintf("rejected %d deactivations: they will not be applied", s.res.PendingDeletions), nil
		},
		workflow.UpdateHandlerOptions{Validator: s.validateDecision})
	if err != nil {
		return nil, err
	}
	err = workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID), SyncKindAttribute.ValueSet(in.Kind))
	return s, err
}

func (s *fullSync) validateDecision(_ workflow.Context, d DeletionDecision) error {
	if d.By == "" {
		return errors.New("say who decides: the decision is recorded in the sync log (--by)")
	}
	if s.phase != PhaseAwaitingApproval {
		return fmt.Errorf("this sync is %s, not awaiting approval: there are no held deletions to decide", s.phase)
	}
	if s.decision != nil {
		return fmt.Errorf("the deletions were already decided by %s", s.decision.By)
	}
	return nil
}

func (s *fullSync) run(ctx workflow.Context) (FullSyncResult, error) {
	var started activities.StartRunResult
	err := workflow.ExecuteActivity(shortActivity(ctx), s.act.StartRun,
		activities.StartRunInput{CorpID: s.in.CorpID, Kind: s.in.Kind, Trigger: s.in.Trigger}).Get(ctx, &started)
	if err != nil {
		return s.res, err
	}
	s.res.RunID = started.RunID
	applied, err := s.crawlAndApply(ctx)
	if err != nil {
		return s.res, s.finish(ctx, store.RunFailed, err, applied)
	}
	status := store.RunSucceeded
	if applied.RecordErrors > 0 || s.decision != nil && !s.decision.Approve {
		status = store.RunPartial
	}
	return s.res, s.finish(ctx, status, nil, applied)
}

func (s *fullSync) crawlAndApply(ctx workflow.Context) (activities.ApplyResult, error) {
	s.phase = PhaseReading
	var crawled activities.CrawlResult
	err := workflow.ExecuteActivity(crawlActivity(ctx), s.act.CrawlOrg,
		activities.CrawlInput{CorpID: s.in.CorpID, RunID: s.res.RunID}).Get(ctx, &crawled)
	if err != nil {
		return activities.ApplyResult{}, err
	}
	s.res.APICalls, s.res.Throttled = crawled.APICalls, crawled.Throttled
	if crawled.Departments > 0 && float64(crawled.RecordErrors) > maxRecordFailureRatio*float64(crawled.Departments) {
		return activities.ApplyResult{RecordErrors: crawled.RecordErrors}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%d of %d departments could not be read (over %.0f%%): nothing was applied and the binding is quarantined; see `starter runs --run-id %d` for each department's error and fix the app's permissions or contact scope",
				crawled.RecordErrors, crawled.Departments, maxRecordFailureRatio*100, s.res.RunID),
			ErrTypeTooManyFailures, nil)
	}
	s.phase = PhaseApplying
	applied, err := s.apply(ctx, store.DeletionsGuarded)
	if err != nil || !applied.NeedsApproval {
		return applied, err
	}
	return s.awaitDecision(ctx, applied)
}

func (s *fullSync) apply(ctx workflow.Context, policy store.DeletionPolicy) (activities.ApplyResult, error) {
	var applied activities.ApplyResult
	err := workflow.ExecuteActivity(applyActivity(ctx), s.act.ApplyRun,
		activities.ApplyInput{RunID: s.res.RunID, Policy: policy}).Get(ctx, &applied)
	s.res.Departments, s.res.Employees = applied.DepartmentsSeen, applied.EmployeesSeen
	s.res.Created, s.res.Updated, s.res.Deactivated = applied.Created, applied.Updated+applied.Reactivated, applied.Deactivated
	s.res.DepartmentsChanged = applied.DepartmentsChanged + applied.DepartmentsRemoved
	s.res.RecordErrors, s.res.PendingDeletions = applied.RecordErrors, applied.PendingDeletions
	return applied, err
}

// awaitDecision holds the run until an operator approves or rejects the deletions the guard
// held, or the approval timeout passes (the run then fails with nothing applied).
func (s *fullSync) awaitDecision(ctx workflow.Context, held activities.ApplyResult) (activities.ApplyResult, error) {
	s.phase = PhaseAwaitingApproval
	workflow.GetLogger(ctx).Info("deletion guard holds the apply", "corp", s.in.CorpID, "pending", held.PendingDeletions)
	ok, err := workflow.AwaitWithTimeout(ctx, s.in.ApprovalTimeout, func() bool { return s.decision != nil })
	if err != nil {
		return held, err
	}
	if !ok {
		return held, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("nobody approved or rejected the %d held deactivations within %s: nothing was applied; run the sync again and decide with `starter deletions approve|reject --corp-id %s --by NAME`",
				held.PendingDeletions, s.in.ApprovalTimeout, s.in.CorpID),
			ErrTypeDeletionsTimedOut, nil)
	}
	s.res.DecidedBy = s.decision.By
	s.phase = PhaseApplying
	if s.decision.Approve {
		return s.apply(ctx, store.DeletionsApproved)
	}
	return s.apply(ctx, store.DeletionsSkipped)
}

func (s *fullSync) partialReason(applied activities.ApplyResult) string {
	reason := ""
	if applied.RecordErrors > 0 {
		reason = fmt.Sprintf("%d records could not be read (departments, whose members were left as they were, or roster fields, "+
			"whose stored values were kept); see sync_errors of run %d", applied.RecordErrors, s.res.RunID)
	}
	if s.decision != nil && !s.decision.Approve {
		if reason != "" {
			reason += "; "
		}
		reason += fmt.Sprintf("%d deactivations rejected by %s", applied.PendingDeletions, s.decision.By)
		if s.decision.Reason != "" {
			reason += ": " + s.decision.Reason
		}
	}
	return reason
}

// finish records the outcome and the binding's new status. It runs even when the workflow
// was cancelled, and returns runErr, the error that failed the run (nil when it did not fail).
func (s *fullSync) finish(ctx workflow.Context, status string, runErr error, applied activities.ApplyResult) error {
	s.phase, s.res.Status = PhaseDone, status
	in := activities.FinishRunInput{CorpID: s.in.CorpID, RunID: s.res.RunID, Kind: s.in.Kind, Status: status,
		Applied: applied, BindingStatus: store.BindingActive}
	if s.decision != nil {
		in.DecidedBy = s.decision.By
	}
	switch {
	case runErr != nil:
		in.Reason = runErr.Error()
		in.BindingStatus, in.ErrorType = bindingStatusAfterFailure(runErr)
	case status == store.RunPartial:
		in.Reason = s.partialReason(applied)
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := workflow.ExecuteActivity(shortActivity(dctx), s.act.FinishRun, in).Get(dctx, nil); err != nil && runErr == nil {
		return err
	}
	return surfaced(runErr)
}

// bindingStatusAfterFailure says what a failed run means for the binding, and names the
// failure for metrics.
func bindingStatusAfterFailure(err error) (bindingStatus, errorType string) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return store.BindingActive, "other"
	}
	switch appErr.Type() {
	case activities.ErrTypeDingTalkAuth, activities.ErrTypeCredentialUnreadable, activities.ErrTypeNoCredential:
		return store.BindingCredentialsInvalid, appErr.Type()
	case ErrTypeTooManyFailures:
		return store.BindingQuarantined, appErr.Type()
	case activities.ErrTypeUnknownCorp, activities.ErrTypeBindingInactive:
		return "", appErr.Type()
	}
	return store.BindingActive, appErr.Type()
}
