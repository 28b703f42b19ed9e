package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// Binding is a corp's long-lived binding entity, binding/<corp>. It onboards the corp
// (verify the credentials and every permission, snapshot the HR rows, register the event
// callback, run the initial full sync as a child) and then serves status, pause, resume and
// unbind until unbound. A failed onboarding step leaves the binding waiting with a reason
// that says how to fix it; `resume` re-checks.
func Binding(ctx workflow.Context, in BindingInput) (BindingResult, error) {
	b, err := newBinding(ctx, in)
	if err != nil {
		return BindingResult{}, err
	}
	return b.run(ctx)
}

type binding struct {
	corpID   string
	actor    string
	st       BindingState
	act      *activities.Binding
	recheck  bool
	unbound  bool
	unbindBy string
	note     string
}

func newBinding(ctx workflow.Context, in BindingInput) (*binding, error) {
	if in.CorpID == "" {
		return nil, temporal.NewNonRetryableApplicationError("binding needs a corp id", ErrTypeInvalidInput, nil)
	}
	b := &binding{corpID: in.CorpID, actor: in.Actor, st: BindingState{Status: store.BindingPending}}
	if in.State != nil {
		b.st = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (BindingState, error) { return b.st, nil }); err != nil {
		return nil, err
	}
	updates := []struct {
		name    string
		handler func(workflow.Context, BindingAction) (string, error)
	}{{UpdatePause, b.pause}, {UpdateResume, b.resume}, {UpdateUnbind, b.unbind}}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: b.validator(u.name)}); err != nil {
			return nil, err
		}
	}
	err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindBinding), SearchAttributeBindingStatus.ValueSet(b.st.Status))
	return b, err
}

func (b *binding) run(ctx workflow.Context) (BindingResult, error) {
	b.recheck = !b.st.Onboarded && b.st.Status != store.BindingPaused
	for {
		if b.recheck && !b.unbound {
			b.recheck = false
			b.onboard(ctx)
		}
		err := workflow.Await(ctx, func() bool {
			return b.recheck || b.unbound || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		})
		if err != nil {
			return BindingResult{}, err
		}
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return BindingResult{}, err
		}
		if b.unbound {
			return BindingResult{Status: store.BindingUnbound, Note: b.note}, nil
		}
		if !b.recheck && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return BindingResult{}, workflow.NewContinueAsNewError(ctx, Binding,
				BindingInput{CorpID: b.corpID, Actor: b.actor, State: &b.st})
		}
	}
}

// onboard runs the binding's steps; a step that cannot go on sets the status and reason and
// returns (the loop then waits for `resume`).
func (b *binding) onboard(ctx workflow.Context) {
	b.st.Steps = nil
	if !b.verify(ctx) {
		return
	}
	b.setStatus(ctx, store.BindingAuthorized, "")
	if b.st.Snapshot.ID == 0 {
		var snap activities.SnapshotResult
		if err := workflow.ExecuteActivity(shortActivity(ctx), b.act.Snapshot, activities.CorpInput{CorpID: b.corpID}).Get(ctx, &snap); err != nil {
			b.fail(ctx, "snapshot the HR store", store.BindingPending, err)
			return
		}
		b.st.Snapshot = snap.Snapshot
	}
	b.step("snapshot the HR store", "ok", fmt.Sprintf("snapshot %d: %d employees, %d departments (restore: starter snapshot restore --corp-id %s --snapshot-id %d)",
		b.st.Snapshot.ID, b.st.Snapshot.Employees, b.st.Snapshot.Departments, b.corpID, b.st.Snapshot.ID))
	b.registerCallback(ctx)
	if !b.initialSync(ctx) {
		return
	}
	b.st.Onboarded = true
	b.ensureSchedules(ctx)
	b.setStatus(ctx, store.BindingActive, b.degradedReason())
}

// ensureSchedules creates the corp's audit and nightly full sync schedules. Without them the
// corp still syncs (events, manual runs): a failure is a degraded step, not a failed binding.
func (b *binding) ensureSchedules(ctx workflow.Context) {
	var sched *activities.Schedules
	err := workflow.ExecuteActivity(shortActivity(ctx), sched.EnsureSchedules, activities.CorpInput{CorpID: b.corpID}).Get(ctx, nil)
	if err != nil {
		b.step("create schedules", "degraded", FailureMessage(err)+"; create them with `starter schedules update --corp-id "+b.corpID+"`")
		return
	}
	b.step("create schedules", "ok", "daily audit and nightly full sync: `starter schedules list --corp-id "+b.corpID+"`")
}

// pauseSchedules pauses or unpauses the corp's schedules with the binding; a failure is
// logged (a run a schedule starts on a paused corp is refused anyway).
func (b *binding) pauseSchedules(ctx workflow.Context, paused bool, note string) {
	var sched *activities.Schedules
	err := workflow.ExecuteActivity(shortActivity(ctx), sched.PauseSchedules,
		activities.PauseSchedulesInput{CorpID: b.corpID, Paused: paused, Note: note}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("pause schedules", "corp", b.corpID, "paused", paused, "error", err)
	}
}

func (b *binding) verify(ctx workflow.Context) bool {
	var v activities.VerifyResult
	err := workflow.ExecuteActivity(verifyActivity(ctx), b.act.Verify, activities.CorpInput{CorpID: b.corpID}).Get(ctx, &v)
	if err != nil {
		status := store.BindingPending
		if t := errorType(err); t == activities.ErrTypeDingTalkAuth || t == activities.ErrTypeCredentialUnreadable || t == activities.ErrTypeNoCredential {
			status = store.BindingCredentialsInvalid
		}
		b.fail(ctx, "verify the credentials", status, err)
		return false
	}
	b.st.Permissions, b.st.RequiredMissing, b.st.OptionalMissing = v.Checks, v.RequiredMissing, v.OptionalMissing
	b.step("verify the credentials", "ok", "the AppKey/AppSecret fetched a token")
	if len(v.RequiredMissing) > 0 {
		reason := fmt.Sprintf("the app lacks permissions nothing syncs without: %s; grant them in the DingTalk developer console (权限管理) and run `starter resume --corp-id %s`",
			strings.Join(v.RequiredMissing, ", "), b.corpID)
		b.step("check permissions", "failed", reason)
		b.setStatus(ctx, store.BindingPending, reason)
		return false
	}
	outcome, detail := "ok", "every permission is granted"
	if len(v.OptionalMissing) > 0 {
		outcome, detail = "degraded", "missing (features degraded, directory still syncs): "+strings.Join(v.OptionalMissing, ", ")
	}
	b.step("check permissions", outcome, detail)
	return true
}

func (b *binding) registerCallback(ctx workflow.Context) {
	var cb activities.CallbackResult
	err := workflow.ExecuteActivity(shortActivity(ctx), b.act.RegisterCallback,
		activities.CallbackInput{CorpID: b.corpID, Actor: b.actor}).Get(ctx, &cb)
	switch {
	case err != nil:
		b.step("register the event callback", "degraded", FailureMessage(err)+"; incremental sync is off until it is registered (`starter resume`)")
	case !cb.Registered:
		b.step("register the event callback", "skipped", "no callback URL: bind with --callback-url to receive DingTalk's change events")
	default:
		b.st.Callback = cb
		b.step("register the event callback", "ok", "DingTalk pushes contact events to "+cb.URL)
		b.startIncremental(ctx)
	}
}

// startIncremental starts the corp's long-lived incremental sync (left running when the
// binding continues-as-new), so events apply and failed pushes are drained from now on.
func (b *binding) startIncremental(ctx workflow.Context) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        IncrementalWorkflowID(b.corpID),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(b.corpID),
			SyncKindAttribute.ValueSet(KindIncremental)),
	})
	err := workflow.ExecuteChildWorkflow(cctx, IncrementalSync, IncrementalInput{CorpID: b.corpID}).
		GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		b.step("start incremental sync", "degraded", FailureMessage(err)+"; the first event received starts it")
	}
}

func (b *binding) initialSync(ctx workflow.Context) bool {
	b.setStatus(ctx, store.BindingSyncing, "initial full sync")
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            FullSyncWorkflowID(b.corpID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(CorpIDAttribute.ValueSet(b.corpID), SyncKindAttribute.ValueSet(KindFull)),
	})
	var res FullSyncResult
	err := workflow.ExecuteChildWorkflow(cctx, FullSync, FullSyncInput{CorpID: b.corpID, Trigger: "binding"}).Get(ctx, &res)
	if err != nil {
		status, _ := bindingStatusAfterFailure(err)
		if status == "" || status == store.BindingActive {
			status = store.BindingPending
		}
		b.fail(ctx, "initial full sync", status, err)
		return false
	}
	b.st.InitialSync = &res
	b.step("initial full sync", "ok", fmt.Sprintf("run %d %s: %d employees in %d departments", res.RunID, res.Status, res.Employees, res.Departments))
	return true
}

func (b *binding) degradedReason() string {
	var parts []string
	if len(b.st.OptionalMissing) > 0 {
		parts = append(parts, "degraded: missing "+strings.Join(b.st.OptionalMissing, ", "))
	}
	if !b.st.Callback.Registered {
		parts = append(parts, "incremental sync off (no event callback)")
	}
	return strings.Join(parts, "; ")
}

func (b *binding) step(name, outcome, detail string) {
	b.st.Steps = append(b.st.Steps, BindingStep{Name: name, Outcome: outcome, Detail: detail})
}

func (b *binding) fail(ctx workflow.Context, step, status string, err error) {
	reason := FailureMessage(err)
	b.step(step, "failed", reason)
	b.setStatus(ctx, status, reason)
}

// setStatus records a status change in the store and the search attribute.
func (b *binding) setStatus(ctx workflow.Context, status, reason string) {
	b.st.Status, b.st.Reason = status, reason
	_ = workflow.ExecuteActivity(shortActivity(ctx), b.act.SetStatus,
		activities.StatusInput{CorpID: b.corpID, Status: status, Reason: reason}).Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttributeBindingStatus.ValueSet(status))
}

func (b *binding) validator(name string) func(workflow.Context, BindingAction) error {
	return func(_ workflow.Context, a BindingAction) error {
		switch {
		case a.By == "":
			return errors.New("say who does this: it is recorded in the ops log (--by)")
		case b.unbound:
			return fmt.Errorf("corp %s is unbound", b.corpID)
		case name == UpdatePause && b.st.Status == store.BindingPaused:
			return fmt.Errorf("corp %s is already paused", b.corpID)
		case name == UpdateResume && b.st.Status == store.BindingActive:
			return fmt.Errorf("corp %s is already active: nothing to resume", b.corpID)
		}
		return nil
	}
}

func (b *binding) pause(ctx workflow.Context, a BindingAction) (string, error) {
	b.st.Status, b.st.Reason = store.BindingPaused, a.Reason
	err := workflow.ExecuteActivity(shortActivity(ctx), b.act.SetStatus, activities.StatusInput{CorpID: b.corpID,
		Status: store.BindingPaused, Reason: a.Reason, Actor: a.By, Action: "pause"}).Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttributeBindingStatus.ValueSet(store.BindingPaused))
	b.pauseSchedules(ctx, true, "binding paused by "+a.By)
	return fmt.Sprintf("corp %s paused: no syncs start until `starter resume`", b.corpID), err
}

func (b *binding) resume(ctx workflow.Context, a BindingAction) (string, error) {
	if !b.st.Onboarded {
		b.actor, b.recheck = a.By, true
		return fmt.Sprintf("re-checking corp %s: follow it with `starter status --corp-id %s`", b.corpID, b.corpID), nil
	}
	b.st.Status, b.st.Reason = store.BindingActive, b.degradedReason()
	err := workflow.ExecuteActivity(shortActivity(ctx), b.act.SetStatus, activities.StatusInput{CorpID: b.corpID,
		Status: store.BindingActive, Reason: b.st.Reason, Actor: a.By, Action: "resume"}).Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttributeBindingStatus.ValueSet(store.BindingActive))
	b.pauseSchedules(ctx, false, "binding resumed by "+a.By)
	return fmt.Sprintf("corp %s resumed", b.corpID), err
}

// unbind stops the corp's running full sync, deletes its event callback and schedules and
// marks it unbound; its HR data is kept.
func (b *binding) unbind(ctx workflow.Context, a BindingAction) (string, error) {
	_ = workflow.RequestCancelExternalWorkflow(ctx, FullSyncWorkflowID(b.corpID), "").Get(ctx, nil)
	var note string
	err := workflow.ExecuteActivity(shortActivity(ctx), b.act.Unbind,
		activities.UnbindInput{CorpID: b.corpID, Actor: a.By, Reason: a.Reason}).Get(ctx, &note)
	if err != nil {
		return "", err
	}
	var sched *activities.Schedules
	if err := workflow.ExecuteActivity(shortActivity(ctx), sched.DeleteSchedules, activities.CorpInput{CorpID: b.corpID}).Get(ctx, nil); err != nil {
		note += "; its schedules could not be deleted (" + FailureMessage(err) + "): delete schedule/audit/" + b.corpID +
			" and schedule/fullsync/" + b.corpID + " in the Temporal UI"
	}
	b.st.Status, b.st.Reason, b.unbound, b.note = store.BindingUnbound, a.Reason, true, note
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttributeBindingStatus.ValueSet(store.BindingUnbound))
	return fmt.Sprintf("corp %s unbound: %s", b.corpID, note), nil
}

// verifyActivity is for verification: a handful of DingTalk calls, retried briefly so a
// typo'd secret is reported in seconds, not minutes.
func verifyActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			MaximumAttempts: 5, NonRetryableErrorTypes: append(nonRetryable, activities.ErrTypeInvalidBindingConfig)},
	})
}

// errorType is the application error type inside err, or "".
func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

// FailureMessage is the innermost application error's message, without Temporal's wrapping:
// what failed and how to fix it.
func FailureMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// surfaced fails a workflow with err's own message and type on top (rather than Temporal's
// "activity error" wrapper), so the UI's failure line says what broke and how to fix it; the
// activity failure stays attached as the cause.
func surfaced(err error) error {
	var appErr *temporal.ApplicationError
	if err == nil || !errors.As(err, &appErr) || err == error(appErr) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(appErr.Message(), appErr.Type(), err)
}
