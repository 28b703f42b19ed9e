package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// IPBanDuration is how long DingTalk bans an egress IP that went over 10,000 calls in 20 s.
const IPBanDuration = 5 * time.Minute

// codeClass is what an error code means: its kind, for throttling how long to wait, and a
// hint when the code says more than its kind (see Error.Hint).
type codeClass struct {
	kind       Kind
	retryAfter time.Duration
	hint       string
}

// Hints of codes that say more than their kind.
const (
	hintIPWhitelist = "DingTalk refused this worker's egress IP: add it to the app's 服务器出口IP whitelist " +
		"in the DingTalk developer console (开发管理), then re-run"
	hintAuthCode = "the authorization code is invalid, expired or already used: ask the admin to authorize again"
	// hintUserLogin replaces the AppKey/AppSecret hint on calls made with a user's token.
	hintUserLogin = "the user's DingTalk login expired or was revoked: ask them to sign in again"
	// hintMobileTaken and hintUserIDTaken answer a contact write clashing with another member.
	hintMobileTaken = "another member of the org already has this mobile: fix the mobile in the eHR record " +
		"(or remove the duplicate member in DingTalk), then re-run"
	hintUserIDTaken = "a member with this userid already exists in DingTalk: update that member instead of " +
		"creating it, or fix the userid in the eHR record"
)

// codeClasses maps oapi errcodes and api codes (see dingtalk-api.md §4) to their meaning.
var codeClasses = map[string]codeClass{
	// Credentials and tokens. 40001/40014/42001/InvalidAuthentication on a call that sent a
	// token first trigger one token refetch (see tokenRejected); they are auth errors when
	// they persist.
	"40001":                   {kind: KindAuth},
	"40014":                   {kind: KindAuth},
	"42001":                   {kind: KindAuth},
	"40089":                   {kind: KindAuth},
	"60020":                   {kind: KindAuth, hint: hintIPWhitelist},
	"InvalidAuthentication":   {kind: KindAuth},
	"invalidClientIdOrSecret": {kind: KindAuth},
	"IpNotInWhiteList":        {kind: KindAuth, hint: hintIPWhitelist},
	// The user-login code exchange (ExchangeAuthCode) refused the authorization code.
	"InvalidAuthCode": {kind: KindInvalidRequest, hint: hintAuthCode},

	"60011":                       {kind: KindPermission},
	"43007":                       {kind: KindPermission},
	"AccessTokenPermissionDenied": {kind: KindPermission},

	"60003": {kind: KindNotFound},
	"60121": {kind: KindNotFound},
	"33012": {kind: KindNotFound},

	// 71006: a callback is already registered (RegisterCallback then updates it); 71007: no
	// callback is registered.
	"71006": {kind: KindInvalidRequest},
	"71007": {kind: KindNotFound},

	// A contact write clashing with another member (see IsMobileTaken, IsUserIDTaken):
	// retrying will not help, fixing the record will.
	"60104": {kind: KindInvalidRequest, hint: hintMobileTaken},
	"60102": {kind: KindInvalidRequest, hint: hintUserIDTaken},
	// Department writes (see IsDeptNameTaken): 60001 invalid name, 60009 forbidden characters,
	// 60002 too deep, 60004 parent missing, 60008 a sibling has the name, 60010 a cycle,
	// 60018 the root department.
	"60001": {kind: KindInvalidRequest, hint: hintDeptName},
	"60009": {kind: KindInvalidRequest, hint: hintDeptName},
	"60002": {kind: KindInvalidRequest, hint: hintDeptDepth},
	"60004": {kind: KindNotFound, hint: hintParentMissing},
	"60008": {kind: KindInvalidRequest, hint: hintDeptNameTaken},
	"60010": {kind: KindInvalidRequest, hint: hintDeptCycle},
	"60018": {kind: KindInvalidRequest, hint: hintRootDept},

	"50002": {kind: KindOutOfScope},
	// 50004: "请求的部门id不在授权范围内" (department outside the authorized scope).
	"50004": {kind: KindOutOfScope},

	"90018":                   {kind: KindThrottled, retryAfter: time.Second},
	"90002":                   {kind: KindThrottled, retryAfter: time.Second},
	"QpsLimitForAppkeyAndApi": {kind: KindThrottled, retryAfter: time.Second},
	"QpsLimitForApi":          {kind: KindThrottled, retryAfter: time.Second},
	"QpmLimitForAppkeyAndApi": {kind: KindThrottled, retryAfter: time.Minute},
	// 90005/90006: org or secret temporarily blocked for calling too often; no duration is
	// documented, so back off for a minute.
	"90005": {kind: KindThrottled, retryAfter: time.Minute},
	"90006": {kind: KindThrottled, retryAfter: time.Minute},

	"90020":               {kind: KindQuota},
	"ApiCountLimitForOrg": {kind: KindQuota},

	"-1": {kind: KindTransient},

	"400002": {kind: KindInvalidRequest},
	"40035":  {kind: KindInvalidRequest},
	"40068":  {kind: KindInvalidRequest},
	"40069":  {kind: KindInvalidRequest},
	"41001":  {kind: KindInvalidRequest},
	"404":    {kind: KindInvalidRequest}, // oapi: the URI does not exist
}

// lookupCode finds the meaning of code. New-API codes may come with prefixes
// ("Forbidden.AccessDenied.AccessTokenPermissionDenied"), so the last dotted segment is
// looked up too.
func lookupCode(code string) (codeClass, bool) {
	if c, ok := codeClasses[code]; ok {
		return c, true
	}
	c, ok := codeClasses[lastSegment(code)]
	return c, ok
}

// lastSegment returns what follows the last dot of code ("A.B.C." gives "C").
func lastSegment(code string) string {
	trimmed := strings.TrimRight(code, ".")
	return trimmed[strings.LastIndexByte(trimmed, '.')+1:]
}

// tokenRejected reports whether err says the access token sent was invalid or expired, so
// a fresh token should be fetched and the call retried once.
func tokenRejected(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.API == APIToken {
		return false
	}
	switch lastSegment(e.Code) {
	case "40001", "40014", "42001", "InvalidAuthentication":
		return true
	}
	return false
}

// codeError classifies a DingTalk error code. Unknown codes fall back to the HTTP status.
func codeError(api string, status int, header http.Header, code, msg, requestID string) *Error {
	e := statusError(api, status, header)
	if c, ok := lookupCode(code); ok {
		e.Kind, e.RetryAfter, e.hint = c.kind, 0, c.hint
		if c.kind == KindThrottled {
			e.RetryAfter = retryAfterHeader(header, c.retryAfter)
		}
	} else if status < 300 {
		e.Kind, e.RetryAfter = KindUnknown, 0
	}
	e.Code, e.Message, e.RequestID = code, msg, requestID
	if e.Kind == KindPermission {
		e.Permission = missingPermission(api, msg)
	}
	return e
}

// statusError classifies a response by its HTTP status alone.
func statusError(api string, status int, header http.Header) *Error {
	e := &Error{API: api, HTTPStatus: status, Message: http.StatusText(status)}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind, e.RetryAfter = KindThrottled, retryAfterHeader(header, time.Second)
	case status == http.StatusRequestTimeout || status >= 500:
		e.Kind = KindTransient
	case status == http.StatusUnauthorized:
		e.Kind = KindAuth
	case status == http.StatusForbidden:
		e.Kind = KindPermission
	case status >= 400:
		e.Kind = KindInvalidRequest
	default:
		e.Kind = KindUnknown
	}
	return e
}

// retryAfterHeader reads a Retry-After header given in seconds.
func retryAfterHeader(header http.Header, fallback time.Duration) time.Duration {
	if s, err := strconv.Atoi(header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return fallback
}

// malformed reports a response that could not be decoded. It is transient: a truncated body
// or a proxy's error page usually goes away on retry.
func malformed(api string, status int, cause error) *Error {
	return &Error{
		Kind:       KindTransient,
		API:        api,
		Code:       CodeMalformedResponse,
		Message:    "malformed response: " + cause.Error(),
		HTTPStatus: status,
	}
}

// ipBanError reports DingTalk's egress-IP ban page.
func ipBanError(api string, status int) *Error {
	return &Error{
		Kind:       KindThrottled,
		API:        api,
		Code:       CodeIPBanned,
		Message:    "DingTalk banned this egress IP for too many calls (over 10,000 in 20 s)",
		HTTPStatus: status,
		RetryAfter: IPBanDuration,
	}
}

// isIPBan recognises the page DingTalk serves instead of an API response while the egress IP
// is banned: an HTML page, or JSON such as {"status":1111,"wait":5,"source":"x5","punish":"deny"}.
func isIPBan(status int, header http.Header, body []byte) bool {
	if status >= 500 {
		return false
	}
	trimmed := bytes.TrimSpace(body)
	if strings.Contains(header.Get("Content-Type"), "text/html") || bytes.HasPrefix(trimmed, []byte("<")) {
		return status == http.StatusOK || status == http.StatusForbidden || status == http.StatusTooManyRequests
	}
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(trimmed, &fields) != nil {
		return false
	}
	if _, ok := fields["errcode"]; ok {
		return false
	}
	_, punish := fields["punish"]
	_, flag := fields["rgv587_flag"]
	_, wait := fields["wait"]
	return punish || flag || (wait && string(fields["source"]) == `"x5"`)
}

// departmentPermission is the permission the department APIs need (dingtalk-api.md §2).
const departmentPermission = "qyapi_get_department_list"

var permissionPattern = regexp.MustCompile(`\bqyapi_[a-z0-9_]+\b`)

// missingPermission names the permission a KindPermission error is about: from DingTalk's
// message when it names one, else from what the API is documented to need.
func missingPermission(api, msg string) string {
	if p := permissionPattern.FindString(msg); p != "" {
		return p
	}
	switch api {
	case APIDepartmentListSub, APIDepartmentSubIDs, APIDepartmentGet:
		return departmentPermission
	case APIUserCreate, APIUserUpdate, APIDepartmentCreate, APIDepartmentUpdate:
		return userWritePermission
	case APIRosterQuery:
		return rosterPermission
	}
	return ""
}

var accessTokenPattern = regexp.MustCompile(`(?i)(access_?token=)[^&\s"']+`)

// redact removes the given secrets and any access_token query value from s.
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return accessTokenPattern.ReplaceAllString(s, "${1}[redacted]")
}

// transportError reports a request that got no response, without the request URL (net/http
// puts the full URL, access token included, into *url.Error).
func transportError(api string, cause error, timeout time.Duration) *Error {
	e := &Error{Kind: KindTransient, API: api, cause: cause}
	if isTimeout(cause) {
		e.Message = fmt.Sprintf("no response within %s", timeout)
	} else {
		e.Message = "request failed: " + cause.Error()
	}
	return e
}

// isTimeout reports whether err is a timeout (the per-request deadline or a network timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}
