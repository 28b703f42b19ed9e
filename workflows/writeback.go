package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// KindWriteback is the SyncKind of the pushes of eHR changes to DingTalk.
const KindWriteback = "writeback"

// WritebackWorkflowID is the id of corpID's writeback: one at a time per corp, so a member's
// changes reach DingTalk in the order they were made.
func WritebackWorkflowID(corpID string) string { return "writeback/" + corpID }

// SignalWritesPending wakes a corp's writeback: eHR changes wait in ehr_writes.
const SignalWritesPending = "writes-pending"

// writebackIdle is how long a writeback with nothing to push waits for more before it ends
// (the next change starts a new one).
const writebackIdle = 30 * time.Second

// WritebackInput starts (or continues) a corp's writeback.
type WritebackInput struct {
	CorpID string
	// Pushed, Failed and Conflicts carry the counts across a continue-as-new.
	Pushed, Failed, Conflicts int
}

// WritebackResult counts what a writeback did.
type WritebackResult struct {
	Pushed    int
	Failed    int
	Conflicts int
}

// Writeback pushes the corp's queued eHR changes (ehr_writes) to DingTalk one at a time,
// oldest first, until none is left and none arrives for writebackIdle. A write DingTalk refuses
// for good is marked failed with the reason and the fix, and the next one goes on; when
// DingTalk cannot be reached the write stays queued and the writeback backs off.
func Writeback(ctx workflow.Context, in WritebackInput) (WritebackResult, error) {
	res := WritebackResult{Pushed: in.Pushed, Failed: in.Failed, Conflicts: in.Conflicts}
	if in.CorpID == "" {
		return res, temporal.NewNonRetryableApplicationError("a writeback needs a corp id", ErrTypeInvalidInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindWriteback)); err != nil {
		return res, err
	}
	wake := workflow.GetSignalChannel(ctx, SignalWritesPending)
	var act *activities.Writeback
	for {
		drain(wake)
		var ids []int64
		if err := workflow.ExecuteLocalActivity(localActivity(ctx), act.PendingWrites,
			activities.CorpInput{CorpID: in.CorpID}).Get(ctx, &ids); err != nil {
			return res, err
		}
		if len(ids) == 0 {
			if !waitForWrites(ctx, wake) {
				return res, nil
			}
			continue
		}
		for _, id := range ids {
			var out activities.PushWriteResult
			err := workflow.ExecuteActivity(pushActivity(ctx), act.PushWrite,
				activities.PushWriteInput{CorpID: in.CorpID, WriteID: id}).Get(ctx, &out)
			if err != nil {
				// DingTalk unreachable, or the binding's credential refused: the write stays queued.
				workflow.GetLogger(ctx).Error("push an eHR change", "corp", in.CorpID, "write", id, "error", err)
				_ = workflow.Sleep(ctx, time.Minute)
				break
			}
			res.Conflicts += out.Conflicts
			if out.Status == store.WriteFailed {
				res.Failed++
			} else {
				res.Pushed++
			}
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return res, workflow.NewContinueAsNewError(ctx, Writeback, WritebackInput{CorpID: in.CorpID,
				Pushed: res.Pushed, Failed: res.Failed, Conflicts: res.Conflicts})
		}
	}
}

// waitForWrites waits writebackIdle for a wake; it reports whether one came.
func waitForWrites(ctx workflow.Context, wake workflow.ReceiveChannel) bool {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	woken := false
	s := workflow.NewSelector(ctx)
	s.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { drain(c); woken = true })
	s.AddFuture(workflow.NewTimer(tctx, writebackIdle), func(workflow.Future) {})
	s.Select(ctx)
	return woken || wake.ReceiveAsync(nil)
}

// pushActivity is for one push to DingTalk: a few calls; retried with backoff for about ten
// minutes of DingTalk being unreachable before the writeback backs off.
func pushActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute,
			MaximumAttempts: 15, NonRetryableErrorTypes: nonRetryable},
	})
}
