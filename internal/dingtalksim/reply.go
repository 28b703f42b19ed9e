package dingtalksim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
)

// Legacy (oapi) errcodes the simulator returns, as documented by DingTalk.
const (
	CodeOK             = 0
	CodeSystemBusy     = -1
	CodeBadSecret      = 40001 // wrong appsecret at gettoken
	CodeInvalidToken   = 40014
	CodeInvalidParam   = 40035
	CodeInvalidOffset  = 40068
	CodeInvalidSize    = 40069
	CodeBadAppKey      = 40089
	CodeMissingToken   = 41001
	CodeTokenExpired   = 42001
	CodeNotInScope     = 50002
	CodeDeptNotFound   = 60003
	CodeNoPermission   = 60011
	CodeIPNotAllowed   = 60020
	CodeUserNotFound   = 60121
	CodeInvalidUserID  = 33012
	CodeQPSLimit       = 90018
	CodeCallbackExists = 71006
	CodeNoCallback     = 71007
	CodeBadRequestBody = 400002
)

// CodeCallbackURLCheck refuses a callback registration whose URL did not answer the
// check_url push with an encrypted "success" in time. UNCONFIRMED: DingTalk documents
// the check, not its errcode.
const CodeCallbackURLCheck = 71008

// New-API (api.dingtalk.com) error codes the simulator returns in the "code" field.
const (
	APICodeBadCredentials = "invalidClientIdOrSecret"
	APICodeInvalidToken   = "InvalidAuthentication"
	APICodeQPSLimit       = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
	APICodeNoPermission   = "Forbidden.AccessDenied.AccessTokenPermissionDenied"
	APICodeIPNotAllowed   = "Forbidden.AccessDenied.IpNotInWhiteList"
	APICodeInvalidParam   = "InvalidParameter"
	APICodeSystemError    = "ServiceUnavailable"
	// APICodeInvalidAuthCode answers an unknown, used or expired auth code or refresh token.
	APICodeInvalidAuthCode = "InvalidAuthCode"
	// APICodeUnsupportedGrant answers a grantType other than authorization_code and
	// refresh_token.
	APICodeUnsupportedGrant = "unsupported.grant.type"
)

// Outcomes of API calls, the second key of CallOutcomes.
const (
	OutcomeOK        = "ok"
	OutcomeThrottled = "throttled"       // 90018 / QpsLimitForAppkeyAndApi, real or injected
	OutcomeIPBanned  = "ip_banned"       // answered with the punish page
	OutcomeAuth      = "auth_error"      // bad credentials or token
	OutcomeDenied    = "denied"          // missing permission or outside the contact scope
	OutcomeNotFound  = "not_found"       // unknown department or user
	OutcomeInvalid   = "invalid_request" // bad parameters or body
	OutcomeError     = "error"           // injected -1 or 5xx
	OutcomeTimeout   = "timeout"         // injected hang
	OutcomeMalformed = "malformed"       // injected broken body
)

// reply is an API response before it is written: handlers return one, the pipeline may
// replace or corrupt it, then it is counted and written.
type reply struct {
	status   int
	ctype    string
	location string // Location header of a redirect
	body     any    // encoded as JSON unless raw is set
	raw      []byte // written verbatim
	outcome  string
}

func (r reply) bytes() []byte {
	if r.raw != nil {
		return r.raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.body); err != nil {
		return []byte(`{"errcode":-1,"errmsg":"encode"}`)
	}
	return buf.Bytes()
}

func (r reply) write(w http.ResponseWriter) {
	ctype := r.ctype
	if ctype == "" {
		ctype = "application/json;charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	if r.location != "" {
		w.Header().Set("Location", r.location)
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.bytes())
}

// oapiStatus is the part of every oapi reply that says how the call went. Endpoints that
// put their fields beside it rather than under result embed it.
type oapiStatus struct {
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	RequestID string `json:"request_id"`
}

// oapiBody is the legacy envelope.
type oapiBody struct {
	oapiStatus
	Result any `json:"result,omitempty"`
}

// apiErrorBody is the new-API error body.
type apiErrorBody struct {
	Code               string              `json:"code"`
	Message            string              `json:"message"`
	RequestID          string              `json:"requestid"`
	AccessDeniedDetail *accessDeniedDetail `json:"accessdenieddetail,omitempty"`
}

// accessDeniedDetail names the permissions a refused new-API call lacks.
type accessDeniedDetail struct {
	RequiredScopes []string `json:"requiredScopes"`
}

// ok answers success: the oapi envelope around result, or result itself for the new API.
func (c *call) ok(result any) reply {
	if c.route.family == newAPI {
		return reply{status: http.StatusOK, body: result, outcome: OutcomeOK}
	}
	return reply{status: http.StatusOK, outcome: OutcomeOK, body: oapiBody{oapiStatus: c.oapiOK(), Result: result}}
}

// oapiOK is the status of a successful oapi call, for bodies that embed it.
func (c *call) oapiOK() oapiStatus {
	return oapiStatus{ErrCode: CodeOK, ErrMsg: "ok", RequestID: c.reqID}
}

// okFlat answers success with body as it is: an oapi body embedding oapiOK, for the
// endpoints without a result envelope.
func (c *call) okFlat(body any) reply {
	return reply{status: http.StatusOK, body: body, outcome: OutcomeOK}
}

// fail answers a legacy errcode (always HTTP 200, as DingTalk does).
func (c *call) fail(code int, msg, outcome string) reply {
	return reply{status: http.StatusOK, outcome: outcome,
		body: oapiBody{oapiStatus: oapiStatus{ErrCode: code, ErrMsg: msg, RequestID: c.reqID}}}
}

// apiFail answers a new-API error.
func (c *call) apiFail(status int, code, msg, outcome string) reply {
	return reply{status: status, outcome: outcome,
		body: apiErrorBody{Code: code, Message: msg, RequestID: c.reqID}}
}

func (c *call) throttled() reply {
	if c.route.family == newAPI {
		return c.apiFail(http.StatusForbidden, APICodeQPSLimit, "当前应用调用该接口的QPS超过限制", OutcomeThrottled)
	}
	return c.fail(CodeQPSLimit, "当前应用调用该接口的QPS超过限制", OutcomeThrottled)
}

// noPermission answers a call by an app lacking the route's permission; the new API
// names the permission in accessdenieddetail.
func (c *call) noPermission() reply {
	msg := c.route.denied
	if msg == "" {
		msg = "没有调用该接口的权限"
	}
	if c.route.family == newAPI {
		return reply{status: http.StatusForbidden, outcome: OutcomeDenied, body: apiErrorBody{
			Code: APICodeNoPermission, Message: msg, RequestID: c.reqID,
			AccessDeniedDetail: &accessDeniedDetail{RequiredScopes: []string{c.route.perm}}}}
	}
	return c.fail(CodeNoPermission, msg, OutcomeDenied)
}

func (c *call) systemBusy() reply {
	switch c.route.family {
	case newAPI:
		return c.apiFail(http.StatusInternalServerError, APICodeSystemError, "系统繁忙", OutcomeError)
	case web:
		return htmlError(http.StatusInternalServerError, OutcomeError)
	}
	return c.fail(CodeSystemBusy, "系统繁忙", OutcomeError)
}

// invalid answers a request with bad parameters: 400002 (oapi) or HTTP 400
// InvalidParameter (new API).
func (c *call) invalid(msg string) reply {
	if c.route.family == newAPI {
		return c.apiFail(http.StatusBadRequest, APICodeInvalidParam, msg, OutcomeInvalid)
	}
	return c.fail(CodeBadRequestBody, "参数错误: "+msg, OutcomeInvalid)
}

// decode parses the JSON request body into v (an empty body is {}); a malformed body is
// answered as invalid.
func (c *call) decode(v any) (reply, bool) {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return reply{}, true
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return c.invalid(err.Error()), false
	}
	return reply{}, true
}

// parse decodes the request body into a T and checks it with check, answering malformed
// and invalid requests (the error names the bad field).
func parse[T any](c *call, check func(*T) error) (T, reply, bool) {
	var req T
	if rep, ok := c.decode(&req); !ok {
		return req, rep, false
	}
	if err := check(&req); err != nil {
		return req, c.invalid(err.Error()), false
	}
	return req, reply{}, true
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
