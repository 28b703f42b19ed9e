package dingtalk

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies a failed DingTalk call by what the caller should do about it.
type Kind int

// The kinds of failure. Activities map them to Temporal errors: auth, permission and invalid
// request are non-retryable, throttled carries RetryAfter as the next retry delay, transient
// retries with backoff.
const (
	// KindUnknown is an error code this client does not know.
	KindUnknown Kind = iota
	// KindAuth is a rejected credential: bad AppKey/AppSecret, a token DingTalk keeps
	// refusing, or a caller IP outside the app's whitelist.
	KindAuth
	// KindPermission is an API permission the app has not been granted.
	KindPermission
	// KindNotFound is a record that does not exist (any more): a deleted department or a
	// user who left.
	KindNotFound
	// KindOutOfScope is a record outside the app's contact (通讯录) scope.
	KindOutOfScope
	// KindThrottled is a rate limit hit; RetryAfter says how long to wait.
	KindThrottled
	// KindQuota is the org's monthly API call quota, used up.
	KindQuota
	// KindTransient is a failure worth retrying: DingTalk busy, 5xx, timeouts, connection
	// errors and malformed responses.
	KindTransient
	// KindInvalidRequest is a request DingTalk rejected as malformed: a bug or bad input.
	KindInvalidRequest
)

var kindNames = [...]string{
	KindUnknown:        "unknown",
	KindAuth:           "auth",
	KindPermission:     "permission",
	KindNotFound:       "not_found",
	KindOutOfScope:     "out_of_scope",
	KindThrottled:      "throttled",
	KindQuota:          "quota",
	KindTransient:      "transient",
	KindInvalidRequest: "invalid_request",
}

var kindHints = [...]string{
	KindUnknown: "unexpected DingTalk error: look the code up in DingTalk's server API error code list",
	KindAuth: "check the AppKey/AppSecret in the DingTalk developer console (凭证与基础信息) " +
		"and the server IP whitelist",
	KindPermission: "grant the app the missing API permission in the DingTalk developer console " +
		"(权限管理), then re-run",
	KindNotFound: "the record no longer exists in DingTalk (department deleted or user left): " +
		"treat it as removed",
	KindOutOfScope: "the record is outside the app's contact scope (通讯录权限范围): widen the scope " +
		"in the developer console or exclude it from the sync",
	KindThrottled: "DingTalk rate limit hit: retry after the given delay; if it persists lower " +
		"DINGTALK_QPS or look for other callers on the same app or egress IP",
	KindQuota: "the org's monthly DingTalk API quota is used up: wait for next month or upgrade " +
		"the DingTalk edition",
	KindTransient: "DingTalk or the network failed temporarily: retried automatically; if it " +
		"persists check connectivity to the DingTalk hosts",
	KindInvalidRequest: "DingTalk rejected the request as invalid: a dingsync bug or bad input, " +
		"retrying will not help",
}

// String returns the kind's name; it is also the outcome label of Observer.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Hint tells ops what to do about an error of this kind.
func (k Kind) Hint() string {
	if k < 0 || int(k) >= len(kindHints) {
		return kindHints[KindUnknown]
	}
	return kindHints[k]
}

// Codes this client assigns to failures that carry no DingTalk error code.
const (
	// CodeIPBanned marks DingTalk's egress-IP ban page (over 10,000 calls in 20 s).
	CodeIPBanned = "ip_banned"
	// CodeMalformedResponse marks a response that could not be decoded.
	CodeMalformedResponse = "malformed_response"
)

// Error is a classified failure of one DingTalk API call. It never contains a secret or an
// access token.
type Error struct {
	Kind Kind
	// API is the API name (its path), e.g. APIUserList.
	API string
	// Code is DingTalk's errcode (oapi) or code (api), or one of the Code constants.
	Code string
	// Message is DingTalk's message, or what went wrong locally.
	Message string
	// HTTPStatus is the response status, 0 if there was no response.
	HTTPStatus int
	// RetryAfter is how long to wait before retrying a throttled call.
	RetryAfter time.Duration
	// RequestID is DingTalk's request id, for support tickets.
	RequestID string
	// Permission names the missing API permission of a KindPermission error, when known.
	Permission string

	cause     error
	hint      string // what ops should do, when the code says more than Kind.Hint
	exhausted bool   // the client already spent its retries on this error
}

// Error describes the failure for logs and workflow histories.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dingtalk %s: %s", e.API, e.Kind)
	var details []string
	if e.Code != "" {
		details = append(details, "code "+e.Code)
	}
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		details = append(details, fmt.Sprintf("http %d", e.HTTPStatus))
	}
	if e.RequestID != "" {
		details = append(details, "request_id "+e.RequestID)
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Permission != "" {
		b.WriteString("; missing permission " + e.Permission)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the underlying cause (e.g. context.DeadlineExceeded), if any.
func (e *Error) Unwrap() error { return e.cause }

// Hint tells ops what to do: specific to the error code when it says more than the kind
// (a caller IP outside the whitelist, a used authorization code), naming the missing
// permission when it is known.
func (e *Error) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	if e.Kind == KindPermission && e.Permission != "" {
		return fmt.Sprintf("grant the app the API permission %s in the DingTalk developer console (权限管理), then re-run",
			e.Permission)
	}
	return e.Kind.Hint()
}

// IsKind reports whether err is (or wraps) an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// invalidArgument reports a request refused locally, before anything is sent.
func invalidArgument(api, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, API: api, Message: fmt.Sprintf(format, args...)}
}

// hasCode reports whether err is (or wraps) an *Error with DingTalk code code.
func hasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
