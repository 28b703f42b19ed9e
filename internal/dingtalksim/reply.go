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
	CodeUserNotFound   = 60121
	CodeInvalidUserID  = 33012
	CodeQPSLimit       = 90018
	CodeBadRequestBody = 400002
)

// New-API (api.dingtalk.com) error codes the simulator returns in the "code" field.
const (
	APICodeBadCredentials = "invalidClientIdOrSecret"
	APICodeInvalidToken   = "InvalidAuthentication"
	APICodeQPSLimit       = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
	APICodeNoPermission   = "Forbidden.AccessDenied.AccessTokenPermissionDenied"
	APICodeInvalidParam   = "InvalidParameter"
	APICodeSystemError    = "ServiceUnavailable"
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
	status  int
	ctype   string
	body    any    // encoded as JSON unless raw is set
	raw     []byte // written verbatim
	outcome string
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
	w.WriteHeader(r.status)
	_, _ = w.Write(r.bytes())
}

// oapiBody is the legacy envelope.
type oapiBody struct {
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	RequestID string `json:"request_id"`
	Result    any    `json:"result,omitempty"`
}

// apiErrorBody is the new-API error body.
type apiErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
}

// ok answers success: the oapi envelope around result, or result itself for the new API.
func (c *call) ok(result any) reply {
	if c.route.family == newAPI {
		return reply{status: http.StatusOK, body: result, outcome: OutcomeOK}
	}
	return reply{status: http.StatusOK, outcome: OutcomeOK,
		body: oapiBody{ErrCode: CodeOK, ErrMsg: "ok", RequestID: c.reqID, Result: result}}
}

// fail answers a legacy errcode (always HTTP 200, as DingTalk does).
func (c *call) fail(code int, msg, outcome string) reply {
	return reply{status: http.StatusOK, outcome: outcome,
		body: oapiBody{ErrCode: code, ErrMsg: msg, RequestID: c.reqID}}
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

func (c *call) noPermission() reply {
	if c.route.family == newAPI {
		return c.apiFail(http.StatusForbidden, APICodeNoPermission, "没有调用该接口的权限", OutcomeDenied)
	}
	return c.fail(CodeNoPermission, "没有调用该接口的权限", OutcomeDenied)
}

func (c *call) systemBusy() reply {
	if c.route.family == newAPI {
		return c.apiFail(http.StatusInternalServerError, APICodeSystemError, "系统繁忙", OutcomeError)
	}
	return c.fail(CodeSystemBusy, "系统繁忙", OutcomeError)
}

// decode parses the JSON request body into v (an empty body is {}); a malformed body is
// answered with 400002.
func (c *call) decode(v any) (reply, bool) {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return reply{}, true
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return c.fail(CodeBadRequestBody, "参数错误: "+err.Error(), OutcomeInvalid), false
	}
	return reply{}, true
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
