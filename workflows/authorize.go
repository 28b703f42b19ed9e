package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
)

// AuthorizeWorkflowID is the id of corpID's admin-consent workflow.
func AuthorizeWorkflowID(corpID string) string { return "authorize/" + corpID }

// KindAuthorize is the SyncKind search attribute of authorization workflows.
const KindAuthorize = "authorize"

// SignalAuthCodeReceived tells the authorization workflow the redirect arrived; the code
// itself waits, sealed, in the store.
const SignalAuthCodeReceived = "auth-code-received"

// ErrTypeAuthorizationExpired is raised when nobody consented in time.
const ErrTypeAuthorizationExpired = "AuthorizationExpired"

// DefaultAuthorizationTimeout bounds the wait for an admin's consent.
const DefaultAuthorizationTimeout = 24 * time.Hour

// AuthorizeInput starts an admin-consent flow; StateHash is the hash of the one-time state
// in the login URL (the state itself never enters history).
type AuthorizeInput struct {
	CorpID    string
	StateHash string
	Timeout   time.Duration
}

// Authorize waits for an org admin's OAuth consent (the worker's /oauth/callback signals the
// redirect), exchanges the code, checks the user is an admin of the corp and records who
// authorized. Nobody consenting within the timeout fails the workflow with what to do.
func Authorize(ctx workflow.Context, in AuthorizeInput) (activities.AuthorizeResult, error) {
	if in.CorpID == "" || in.StateHash == "" {
		return activities.AuthorizeResult{}, temporal.NewNonRetryableApplicationError(
			"authorization needs a corp id and a state: start it with `starter authorize`", ErrTypeInvalidInput, nil)
	}
	if in.Timeout <= 0 {
		in.Timeout = DefaultAuthorizationTimeout
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindAuthorize)); err != nil {
		return activities.AuthorizeResult{}, err
	}
	var received string
	signals := workflow.GetSignalChannel(ctx, SignalAuthCodeReceived)
	ok, err := workflow.AwaitWithTimeout(ctx, in.Timeout, func() bool {
		for signals.ReceiveAsync(&received) {
			if received == in.StateHash {
				return true
			}
		}
		return false
	})
	if err != nil {
		return activities.AuthorizeResult{}, err
	}
	if !ok {
		return activities.AuthorizeResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"no admin consented within %s: the link has expired; run `starter authorize --corp-id %s` for a new one", in.Timeout, in.CorpID),
			ErrTypeAuthorizationExpired, nil)
	}
	var res activities.AuthorizeResult
	var act *activities.Binding
	err = workflow.ExecuteActivity(verifyActivity(ctx), act.CompleteAuthorization,
		activities.AuthorizeInput{CorpID: in.CorpID, StateHash: in.StateHash}).Get(ctx, &res)
	return res, err
}
