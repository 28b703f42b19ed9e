package dingtalk

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testCallbackToken  = "cb-token-must-never-leak"
	testCallbackAESKey = "AESKEYmustNeverLeak0123456789abcdefghijklmn"
)

var testCallback = CallbackRegistration{
	Tags:   []string{"user_add_org", "user_leave_org"},
	Token:  testCallbackToken,
	AESKey: testCallbackAESKey,
	URL:    "https://sync.example/dingtalk/events",
}

const testCallbackBody = `{"call_back_tag":["user_add_org","user_leave_org"],"token":"cb-token-must-never-leak",
	"aes_key":"AESKEYmustNeverLeak0123456789abcdefghijklmn","url":"https://sync.example/dingtalk/events"}`

// oapiTop answers like the legacy APIs whose fields sit beside errcode, without `result`.
func oapiTop(w http.ResponseWriter, fields map[string]any) {
	body := map[string]any{"errcode": 0, "errmsg": "ok", "request_id": "req-ok"}
	for k, v := range fields {
		body[k] = v
	}
	writeJSON(w, http.StatusOK, body)
}

// requireNoCallbackSecrets asserts that err does not reveal the callback's token or AES key.
func requireNoCallbackSecrets(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		assert.NotContains(t, s, testCallbackToken)
		assert.NotContains(t, s, testCallbackAESKey)
	}
}

func TestRegisterCallback(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICallbackRegister, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, nil)
		}
	})

	updated, err := c.RegisterCallback(context.Background(), testApp, testCallback)
	require.NoError(t, err)
	assert.False(t, updated)
	assert.JSONEq(t, testCallbackBody, string(f.body(APICallbackRegister)))
	assert.Zero(t, f.hitCount(APICallbackUpdate))
}

func TestRegisterCallbackUpdatesAnExistingOne(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICallbackRegister, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 71006, "回调地址已经存在") })
	f.route(APICallbackUpdate, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, nil)
		}
	})

	updated, err := c.RegisterCallback(context.Background(), testApp, testCallback)
	require.NoError(t, err)
	assert.True(t, updated)
	assert.JSONEq(t, testCallbackBody, string(f.body(APICallbackUpdate)))
	assert.Equal(t, 1, f.hitCount(APICallbackRegister))

	f.route(APICallbackUpdate, func(w http.ResponseWriter, r *http.Request) {
		oapiErr(w, 400002, "参数错误 token="+testCallbackToken+" aes_key="+testCallbackAESKey)
	})
	updated, err = c.RegisterCallback(context.Background(), testApp, testCallback)
	requireKind(t, err, KindInvalidRequest)
	assert.False(t, updated)
	requireNoCallbackSecrets(t, err)
}

func TestRegisterCallbackErrorsNeverContainItsSecrets(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
	f.route(APICallbackRegister, func(w http.ResponseWriter, r *http.Request) {
		oapiErr(w, 71008, "url验证失败 "+string(f.body(APICallbackRegister)))
	})
	_, err := c.RegisterCallback(context.Background(), testApp, testCallback)
	require.Error(t, err)
	requireNoCallbackSecrets(t, err)

	reg := testCallback
	for _, s := range []string{reg.String(), fmt.Sprintf("%v", reg), fmt.Sprintf("%+v", reg), fmt.Sprintf("%#v", reg)} {
		assert.NotContains(t, s, testCallbackToken)
		assert.NotContains(t, s, testCallbackAESKey)
		assert.Contains(t, s, reg.URL)
	}
}

func TestRegisterCallbackRefusesBadRegistrations(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	for name, mod := range map[string]func(*CallbackRegistration){
		"no tags":          func(r *CallbackRegistration) { r.Tags = nil },
		"relative URL":     func(r *CallbackRegistration) { r.URL = "/events" },
		"short token":      func(r *CallbackRegistration) { r.Token = "12345" },
		"long token":       func(r *CallbackRegistration) { r.Token = strings.Repeat("t", 64) },
		"short AES key":    func(r *CallbackRegistration) { r.AESKey = testCallbackAESKey[:42] },
		"empty AES key":    func(r *CallbackRegistration) { r.AESKey = "" },
		"long AES key":     func(r *CallbackRegistration) { r.AESKey = testCallbackAESKey + "x" },
		"ftp URL":          func(r *CallbackRegistration) { r.URL = "ftp://sync.example/events" },
		"URL without host": func(r *CallbackRegistration) { r.URL = "https://" },
	} {
		t.Run(name, func(t *testing.T) {
			reg := testCallback
			mod(&reg)
			_, err := c.RegisterCallback(context.Background(), testApp, reg)
			requireKind(t, err, KindInvalidRequest)
			requireNoCallbackSecrets(t, err)
		})
	}
	assert.Zero(t, f.hitCount(APICallbackRegister), "refused before sending")
}

func TestGetCallback(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICallbackGet, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, map[string]any{"call_back_tag": testCallback.Tags, "token": testCallbackToken,
				"aes_key": testCallbackAESKey, "url": testCallback.URL})
		}
	})

	reg, ok, err := c.GetCallback(context.Background(), testApp)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, testCallback, reg)
	r := f.request(APICallbackGet)
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Empty(t, f.body(APICallbackGet))

	f.route(APICallbackGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 71007, "回调不存在") })
	reg, ok, err = c.GetCallback(context.Background(), testApp)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Zero(t, reg)

	f.route(APICallbackGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60011, "没有调用该接口的权限") })
	_, ok, err = c.GetCallback(context.Background(), testApp)
	requireKind(t, err, KindPermission)
	assert.False(t, ok)
}

func TestDeleteCallback(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICallbackDelete, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, nil)
		}
	})
	require.NoError(t, c.DeleteCallback(context.Background(), testApp))
	assert.Equal(t, http.MethodPost, f.request(APICallbackDelete).Method)

	f.route(APICallbackDelete, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 71007, "回调不存在") })
	require.NoError(t, c.DeleteCallback(context.Background(), testApp), "nothing registered is no error")

	f.route(APICallbackDelete, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60011, "没有调用该接口的权限") })
	requireKind(t, c.DeleteCallback(context.Background(), testApp), KindPermission)
}
