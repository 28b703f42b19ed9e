package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// shortActivity is for bookkeeping activities (a few queries each).
func shortActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: nonRetryable},
	})
}

// crawlActivity is for the crawl: long, heartbeating after every flush, resumable. Retries
// are bounded (about 20 minutes of DingTalk being down) so a stuck sync surfaces as a failed
// workflow engineers can find and reset.
func crawlActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    15 * time.Second, // the crawl heartbeats every flush (≤ 0.5 s)
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 2 * time.Minute, MaximumAttempts: 15, NonRetryableErrorTypes: nonRetryable},
	})
}

// applyActivity is for the transactional apply: one transaction, idempotent per run,
// heartbeating from a ticker while it runs.
func applyActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: nonRetryable},
	})
}

// localActivity is for the short store-only steps of incremental sync (finding pending events,
// opening and closing a batch's run): run in the workflow's own worker, they spare two round
// trips through the server each, which is most of an event's lag.
func localActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: nonRetryable},
	})
}
