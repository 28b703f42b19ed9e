package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Application error types, as they appear in the Temporal UI and in NonRetryableErrorTypes.
const (
	ErrTypeUnknownCorp          = "UnknownCorp"
	ErrTypeBindingInactive      = "BindingInactive"
	ErrTypeNoCredential         = "NoCredential"
	ErrTypeCredentialUnreadable = "CredentialUnreadable"
	ErrTypeDingTalkAuth         = "DingTalkAuth"
	ErrTypeDingTalkPermission   = "DingTalkPermission"
	ErrTypeDingTalkQuota        = "DingTalkQuota"
	ErrTypeDingTalkInvalid      = "DingTalkInvalidRequest"
	ErrTypeDingTalkThrottled    = "DingTalkThrottled"
	ErrTypeDingTalkUnavailable  = "DingTalkUnavailable"
	ErrTypeRotationInProgress   = "RotationInProgress"
)

// temporalError classifies err once, at the edge between dingsync and Temporal: what no retry
// can fix becomes a non-retryable application error whose message says what to do; a
// throttled call retries after DingTalk's own delay; everything else retries with backoff.
// Messages never carry secrets: DingTalk errors are redacted by the client, and causes are
// not attached.
func temporalError(err error) error {
	if err == nil {
		return nil
	}
	var de *dingtalk.Error
	switch {
	case errors.As(err, &de):
		return dingTalkError(err, de)
	case errors.Is(err, store.ErrUnknownCorp):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeUnknownCorp, nil)
	case errors.Is(err, store.ErrNoCredential):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoCredential, nil)
	case errors.Is(err, store.ErrRotationInProgress):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRotationInProgress, nil)
	case errors.Is(err, secretbox.ErrWrongKey):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeCredentialUnreadable, nil)
	}
	return err
}

func dingTalkError(err error, de *dingtalk.Error) error {
	msg := fmt.Sprintf("%v; fix: %s", err, de.Hint())
	switch de.Kind {
	case dingtalk.KindAuth:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeDingTalkAuth, nil)
	case dingtalk.KindPermission, dingtalk.KindOutOfScope:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeDingTalkPermission, nil)
	case dingtalk.KindQuota:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeDingTalkQuota, nil)
	case dingtalk.KindInvalidRequest, dingtalk.KindNotFound:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeDingTalkInvalid, nil)
	case dingtalk.KindThrottled:
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeDingTalkThrottled,
			temporal.ApplicationErrorOptions{NextRetryDelay: de.RetryAfter})
	default:
		return temporal.NewApplicationError(msg, ErrTypeDingTalkUnavailable)
	}
}
