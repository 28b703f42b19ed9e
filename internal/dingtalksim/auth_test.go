package dingtalksim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestLegacyGetToken(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, key, secret string
		wantCode          int
	}{
		{"ok", testKey, testSecret, CodeOK},
		{"unknown appkey", "nope", testSecret, CodeBadAppKey},
		{"missing appkey", "", "", CodeBadAppKey},
		{"wrong secret", testKey, "wrong", CodeBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := e.get("/gettoken?appkey=" + tt.key + "&appsecret=" + tt.secret)
			var body legacyTokenBody
			if err := json.Unmarshal(raw, &body); err != nil || status != http.StatusOK {
				t.Fatalf("HTTP %d %s", status, raw)
			}
			if body.ErrCode != tt.wantCode {
				t.Fatalf("errcode %d, want %d", body.ErrCode, tt.wantCode)
			}
			if ok := body.AccessToken != "" && body.ExpiresIn == 7200; ok != (tt.wantCode == CodeOK) {
				t.Fatalf("token %q expires_in %d", body.AccessToken, body.ExpiresIn)
			}
		})
	}
}

func TestNewAccessToken(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"ok", `{"appKey":"` + testKey + `","appSecret":"` + testSecret + `"}`, http.StatusOK, ""},
		{"wrong secret", `{"appKey":"` + testKey + `","appSecret":"x"}`, http.StatusBadRequest, APICodeBadCredentials},
		{"unknown key", `{"appKey":"x","appSecret":"` + testSecret + `"}`, http.StatusBadRequest, APICodeBadCredentials},
		{"not json", `{`, http.StatusBadRequest, APICodeInvalidParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := e.do(http.MethodPost, APIAccessToken, nil, []byte(tt.body))
			if status != tt.wantStatus {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.wantStatus, raw)
			}
			var ok accessTokenBody
			var fail apiErrorBody
			if tt.wantCode == "" {
				if json.Unmarshal(raw, &ok) != nil || ok.AccessToken == "" || ok.ExpireIn != 7200 {
					t.Fatalf("body %s", raw)
				}
				return
			}
			if json.Unmarshal(raw, &fail) != nil || fail.Code != tt.wantCode || fail.RequestID == "" || fail.Message == "" {
				t.Fatalf("body %s, want code %s", raw, tt.wantCode)
			}
		})
	}
}

func TestTokenReuseAndExpiry(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TokenTTL = time.Minute })
	tok := e.token(testKey, testSecret)
	e.clock.Advance(50 * time.Second)
	if again := e.token(testKey, testSecret); again != tok {
		t.Fatal("a valid token was not reused")
	}
	// Reuse extended its life: 50 s later it is still valid.
	e.clock.Advance(50 * time.Second)
	e.mustOK(APIUserCount, tok, map[string]any{"only_active": false}, nil)
	e.clock.Advance(61 * time.Second)
	if r := e.call(APIUserCount, tok, map[string]any{"only_active": false}, nil); r.ErrCode != CodeTokenExpired {
		t.Fatalf("expired token: errcode %d, want %d", r.ErrCode, CodeTokenExpired)
	}
	status, raw := e.do(http.MethodGet, APIEmpLeaveRecords+"?startTime=2024-01-01T00:00:00Z", http.Header{newAPITokenHeader: {tok}}, nil)
	if status != http.StatusBadRequest || !json.Valid(raw) || !contains(raw, APICodeInvalidToken) {
		t.Fatalf("expired token on the new API: %d %s", status, raw)
	}
	fresh := e.token(testKey, testSecret)
	if fresh == tok {
		t.Fatal("an expired token was handed out again")
	}
	e.mustOK(APIUserCount, fresh, map[string]any{"only_active": false}, nil)
}

func TestRevokeAndRotate(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(testKey, testSecret)
	if err := e.sim.RevokeTokens(testKey); err != nil {
		t.Fatal(err)
	}
	if r := e.call(APIUserCount, tok, `{"only_active":true}`, nil); r.ErrCode != CodeInvalidToken {
		t.Fatalf("revoked token: errcode %d", r.ErrCode)
	}
	if err := e.sim.SetAppSecret(testKey, "new-secret"); err != nil {
		t.Fatal(err)
	}
	status, raw := e.get("/gettoken?appkey=" + testKey + "&appsecret=" + testSecret)
	if status != http.StatusOK || !contains(raw, `"errcode":40001`) {
		t.Fatalf("old secret: %d %s", status, raw)
	}
	e.mustOK(APIUserCount, e.token(testKey, "new-secret"), `{"only_active":true}`, nil)
}

func TestNewAPIAuth(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
	}{
		{"no token", nil, http.StatusBadRequest},
		{"unknown token", http.Header{newAPITokenHeader: {"nope"}}, http.StatusBadRequest},
		{"token in the query only", nil, http.StatusBadRequest},
		{"ok", http.Header{newAPITokenHeader: {e.token(testKey, testSecret)}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := APIEmpLeaveRecords + "?startTime=2024-01-01T00:00:00Z&access_token=" + e.token(testKey, testSecret)
			status, raw := e.do(http.MethodGet, path, tt.header, nil)
			if status != tt.wantStatus {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.wantStatus, raw)
			}
		})
	}
}

func contains(raw []byte, s string) bool { return json.Valid(raw) && bytesContains(raw, s) }

func TestRotateWithGraceKeepsTheOldSecretForAWhile(t *testing.T) {
	e := newEnv(t, nil)
	old := e.token(testKey, testSecret)
	if err := e.sim.RotateAppSecret(testKey, "new-secret", SecretRotation{Grace: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.mustOK(APIUserCount, old, `{"only_active":true}`, nil) // issued tokens live on
	e.token(testKey, testSecret)                             // the old secret, within the grace period
	e.token(testKey, "new-secret")
	e.clock.Advance(time.Minute)
	if status, raw := e.get("/gettoken?appkey=" + testKey + "&appsecret=" + testSecret); status != http.StatusOK || !contains(raw, `"errcode":40001`) {
		t.Fatalf("old secret after the grace period: %d %s", status, raw)
	}
}

func TestRotateWithRevokeInvalidatesIssuedTokens(t *testing.T) {
	e := newEnv(t, nil)
	old := e.token(testKey, testSecret)
	if err := e.sim.RotateAppSecret(testKey, "new-secret", SecretRotation{RevokeTokens: true}); err != nil {
		t.Fatal(err)
	}
	if r := e.call(APIUserCount, old, `{"only_active":true}`, nil); r.ErrCode != CodeInvalidToken {
		t.Fatalf("token issued before a revoking rotation: errcode %d", r.ErrCode)
	}
	e.mustOK(APIUserCount, e.token(testKey, "new-secret"), `{"only_active":true}`, nil)
}
