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

// oapiCall posts params to a legacy API for app and decodes its `result` into a new T, which
// check validates (a result that fails it is a malformed response).
func oapiCall[T any](ctx context.Context, c *Client, app App, api string, params any,
	check func(*T) error) (T, error) {
	var out T
	body, err := json.Marshal(params)
	if err != nil {
		return out, &Error{Kind: KindInvalidRequest, API: api, Message: "encode request: " + err.Error()}
	}
	err = c.call(ctx, app, func(token string) *request {
		return c.oapiRequest(api, token, body, func(raw []byte) error {
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

// oapiRequest builds a POST to the legacy API family: token in the query, errors as HTTP 200
// with a non-zero errcode.
func (c *Client) oapiRequest(api, token string, body []byte, decode func([]byte) error) *request {
	return &request{
		api:    api,
		method: http.MethodPost,
		url:    c.cfg.OAPIBaseURL + api + "?" + url.Values{"access_token": {token}}.Encode(),
		header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
		body:   body,
		token:  token,
		parse:  oapiParser(api, decode),
	}
}

// oapiParser classifies a legacy response and decodes the `result` of a successful one.
func oapiParser(api string, decode func([]byte) error) func(int, http.Header, []byte) error {
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
		if len(env.Result) == 0 || string(env.Result) == "null" {
			return malformed(api, status, errors.New("no result"))
		}
		if err := decode(env.Result); err != nil {
			return malformed(api, status, fmt.Errorf("result: %w", err))
		}
		return nil
	}
}
