package dingtalk

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// oapiEnvelope is the frame of every legacy (oapi) response.
type oapiEnvelope struct {
	ErrCode   *int64          `json:"errcode"`
	ErrMsg    string          `json:"errmsg"`
	SubCode   json.RawMessage `json:"sub_code"` // a string, sometimes a number
	SubMsg    string          `json:"sub_msg"`
	RequestID string          `json:"request_id"`
	Result    json.RawMessage `json:"result"`
}

// oapiSpec describes one legacy API call.
type oapiSpec struct {
	api    string
	method string // http.MethodPost when empty
	// topLevel says the answer's fields sit beside errcode (attendance/list, getsendprogress,
	// the call_back APIs) instead of under `result`.
	topLevel bool
	// secrets are request values to redact from errors (see request.secrets).
	secrets []string
}

// oapiCall posts params to a legacy API for app and decodes its `result` into a new T, which
// check validates (a result that fails it is a malformed response).
func oapiCall[T any](ctx context.Context, c *Client, app App, api string, params any,
	check func(*T) error) (T, error) {
	return oapiDo(ctx, c, app, oapiSpec{api: api}, params, check)
}

// oapiDo calls the legacy API spec for app, sending params (if not nil) as the JSON body,
// and decodes its answer into a new T, which check validates.
func oapiDo[T any](ctx context.Context, c *Client, app App, spec oapiSpec, params any,
	check func(*T) error) (T, error) {
	var out T
	var body []byte
	if params != nil {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return out, &Error{Kind: KindInvalidRequest, API: spec.api, Message: "encode request: " + err.Error()}
		}
	}
	err := c.call(ctx, app, func(token string) *request {
		return c.oapiRequest(spec, token, body, func(raw []byte) error {
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			if err := check(&v); err != nil {
				return err
			}
			out = v
			return nil
		})
	})
	return out, err
}

// noCheck accepts any answer.
func noCheck[T any](*T) error { return nil }

// oapiRequest builds a request to the legacy API family: token in the query, errors as HTTP
// 200 with a non-zero errcode.
func (c *Client) oapiRequest(spec oapiSpec, token string, body []byte, decode func([]byte) error) *request {
	header := http.Header{"Accept": {"application/json"}}
	if body != nil {
		header.Set("Content-Type", "application/json")
	}
	return &request{
		api:     spec.api,
		method:  cmp.Or(spec.method, http.MethodPost),
		url:     c.cfg.OAPIBaseURL + spec.api + "?" + url.Values{"access_token": {token}}.Encode(),
		header:  header,
		body:    body,
		token:   token,
		secrets: spec.secrets,
		parse:   oapiParser(spec.api, spec.topLevel, decode),
	}
}

// oapiParser classifies a legacy response and decodes a successful one: its `result`, or the
// whole body if topLevel.
func oapiParser(api string, topLevel bool, decode func([]byte) error) func(int, http.Header, []byte) error {
	return func(status int, header http.Header, body []byte) error {
		if isIPBan(status, header, body) {
			return ipBanError(api, status)
		}
		var env oapiEnvelope
		err := json.Unmarshal(body, &env)
		if err == nil && env.ErrCode == nil {
			err = errors.New("no errcode")
		}
		if err != nil {
			if status >= 300 {
				return statusError(api, status, header)
			}
			return malformed(api, status, err)
		}
		if *env.ErrCode != 0 {
			code, msg := strconv.FormatInt(*env.ErrCode, 10), env.ErrMsg
			// errcode 88 is a wrapper: the real error is in sub_code/sub_msg.
			if sub := string(bytes.Trim(env.SubCode, `"`)); *env.ErrCode == 88 && sub != "" && sub != "null" {
				code, msg = sub, cmp.Or(env.SubMsg, env.ErrMsg)
			}
			return codeError(api, status, header, code, msg, env.RequestID)
		}
		if status >= 300 {
			return statusError(api, status, header)
		}
		if topLevel {
			if err := decode(body); err != nil {
				return malformed(api, status, err)
			}
			return nil
		}
		if len(env.Result) == 0 || string(env.Result) == "null" {
			return malformed(api, status, errors.New("no result"))
		}
		if err := decode(env.Result); err != nil {
			return malformed(api, status, fmt.Errorf("result: %w", err))
		}
		return nil
	}
}
