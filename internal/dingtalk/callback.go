package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CallbackRegistration is an org's HTTP event push (dingtalk-api.md §6a). Token and AESKey
// are secrets: String redacts them, errors never contain them, and the type has no JSON
// encoding.
type CallbackRegistration struct {
	// Tags are the event types pushed, e.g. user_add_org.
	Tags []string
	// Token signs the pushes: 6 to 63 characters.
	Token string
	// AESKey encrypts the pushes: 43 characters [a-zA-Z0-9].
	AESKey string
	// URL receives the pushes.
	URL string
}

// String describes the registration without its secrets, so it can be logged.
func (r CallbackRegistration) String() string {
	return fmt.Sprintf("callback %s for %s (token [redacted], aes key [redacted])", r.URL, strings.Join(r.Tags, ","))
}

// GoString keeps %#v from printing the secrets too.
func (r CallbackRegistration) GoString() string { return r.String() }

// callbackParams is a CallbackRegistration on the wire (register/update body, get answer).
type callbackParams struct {
	Tags   []string `json:"call_back_tag"`
	Token  string   `json:"token"`
	AESKey string   `json:"aes_key"`
	URL    string   `json:"url"`
}

// DingTalk's errcodes about the org's callback registration.
const (
	codeCallbackRegistered    = "71006" // a callback is already registered
	codeCallbackNotRegistered = "71007" // no callback is registered
)

// RegisterCallback registers reg as app's org's HTTP event push, or updates the registration
// that already exists (updated then says so). DingTalk verifies the URL with a check_url
// push, encrypted with reg's keys, before it answers.
func (c *Client) RegisterCallback(ctx context.Context, app App, reg CallbackRegistration) (updated bool, err error) {
	if err = checkCallback(reg); err != nil {
		return false, err
	}
	spec := oapiSpec{api: APICallbackRegister, topLevel: true, secrets: []string{reg.Token, reg.AESKey}}
	_, err = oapiDo(ctx, c, app, spec, callbackParams(reg), noCheck[struct{}])
	if !hasCode(err, codeCallbackRegistered) {
		return false, err
	}
	spec.api = APICallbackUpdate
	_, err = oapiDo(ctx, c, app, spec, callbackParams(reg), noCheck[struct{}])
	return err == nil, err
}

// checkCallback refuses a registration DingTalk would reject, without naming its secrets.
func checkCallback(reg CallbackRegistration) error {
	u, err := url.Parse(reg.URL)
	switch {
	case len(reg.Tags) == 0:
		return invalidArgument(APICallbackRegister, "no event tags")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return invalidArgument(APICallbackRegister, "callback URL %q is not an http(s) URL", reg.URL)
	case len(reg.Token) < 6 || len(reg.Token) > 63:
		return invalidArgument(APICallbackRegister, "callback token has %d characters, want 6 to 63", len(reg.Token))
	case len(reg.AESKey) != 43:
		return invalidArgument(APICallbackRegister, "callback aes key has %d characters, want 43", len(reg.AESKey))
	}
	return nil
}

// GetCallback returns app's org's HTTP event push; ok is false when none is registered.
func (c *Client) GetCallback(ctx context.Context, app App) (reg CallbackRegistration, ok bool, err error) {
	spec := oapiSpec{api: APICallbackGet, method: http.MethodGet, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, nil, func(r *callbackParams) error {
		if r.URL == "" {
			return errors.New("no url")
		}
		return nil
	})
	switch {
	case hasCode(err, codeCallbackNotRegistered):
		return CallbackRegistration{}, false, nil
	case err != nil:
		return CallbackRegistration{}, false, err
	}
	return CallbackRegistration(res), true, nil
}

// DeleteCallback removes app's org's HTTP event push; none being registered is no error.
func (c *Client) DeleteCallback(ctx context.Context, app App) error {
	spec := oapiSpec{api: APICallbackDelete, topLevel: true}
	_, err := oapiDo(ctx, c, app, spec, struct{}{}, noCheck[struct{}])
	if hasCode(err, codeCallbackNotRegistered) {
		return nil
	}
	return err
}

// APICallbackFailed lists the events DingTalk could not push (each is handed out once).
const APICallbackFailed = "/call_back/get_call_back_failed_result"

// FailedPush is one event DingTalk could not deliver to the callback URL.
type FailedPush struct {
	Tag       string `json:"call_back_tag"`
	EventTime int64  `json:"event_time"` // ms
	// Data is a contact event's plaintext JSON, as the push would have carried it.
	Data string `json:"callbackData"`
	// BpmsData is an approval event's payload (bpms_instance_change, bpms_task_change): a JSON
	// object, or a string holding one.
	BpmsData json.RawMessage `json:"bpmsCallBackData,omitempty"`
	CorpID   string          `json:"corpid"`
}

type failedPushes struct {
	HasMore bool         `json:"has_more"`
	List    []FailedPush `json:"failed_list"`
}

// FailedPushes returns up to 200 events DingTalk failed to push (while the receiver was down),
// removing them from DingTalk's list; hasMore says another call returns more.
func (c *Client) FailedPushes(ctx context.Context, app App) (list []FailedPush, hasMore bool, err error) {
	spec := oapiSpec{api: APICallbackFailed, method: http.MethodGet, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, nil, func(*failedPushes) error { return nil })
	if err != nil {
		return nil, false, err
	}
	return res.List, res.HasMore, nil
}
