package dingtalksim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Permission names an app can hold. Each gates its endpoints (PermUserSensitive gates
// fields); an app's Permissions can leave out any of them.
const (
	// PermDepartmentRead allows the department endpoints.
	PermDepartmentRead = "qyapi_get_department_list"
	// PermUserRead allows the user endpoints and empLeaveRecords.
	PermUserRead = "qyapi_get_member"
	// PermUserSensitive adds mobile, email, org_email, work_place, remark and extension
	// to user results.
	PermUserSensitive = "Contact.User.mobile"
	// PermMessageSend allows work notifications (asyncsend_v2, getsendresult, getsendprogress).
	PermMessageSend = "qyapi_message_corpconversation"
	// PermAttendanceRead allows reading attendance records (attendance/list).
	PermAttendanceRead = "qyapi_attendance_read"
	// PermApprovalRead allows reading approval instances (processes/instanceIds/query); it
	// is the scope a refusal names in requiredScopes.
	PermApprovalRead = "qyapi_process_read"
	// PermUserWrite allows the contact write endpoints (user/create, user/update): DingTalk's
	// 通讯录管理 permission.
	PermUserWrite = "qyapi_manage_addresslist"
)

// AllPermissions lists every permission; an App with nil Permissions holds them all.
var AllPermissions = []string{PermDepartmentRead, PermUserRead, PermUserSensitive, PermMessageSend, PermAttendanceRead, PermApprovalRead, PermUserWrite, PermRosterRead}

// App is an enterprise internal app registered with a corp.
type App struct {
	CorpID    string `json:"corpId"`
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
	// AgentID is the app's AgentId: asyncsend_v2 with another agent_id gets 40056 (0 accepts any).
	AgentID int64 `json:"agentId,omitempty"`
	// Permissions the app was granted; nil means all of AllPermissions.
	Permissions []string `json:"permissions,omitempty"`
	// DeniedDepartments are outside the app's contact scope, with their subtrees: requests
	// naming them (listsub, department/get, user/list, user/listsimple) get 50002, and so
	// does user/get for a user all of whose departments are denied.
	DeniedDepartments []int64 `json:"deniedDepartments,omitempty"`
	// AllowedIPs is the server IP whitelist, IPs or CIDRs; empty allows every IP. Calls
	// for the app from elsewhere get 60020 or HTTP 403 IpNotInWhiteList, token requests
	// included (the browser login page excepted).
	AllowedIPs []string `json:"allowedIps,omitempty"`
}

// String names the app without its secret.
func (a App) String() string { return fmt.Sprintf("app %s of corp %s", a.AppKey, a.CorpID) }

// GoString keeps %#v from printing the secret.
func (a App) GoString() string { return a.String() }

// appState is a registered app. Everything but AppSecret, the whitelist (AllowedIPs and
// allowed) and current is immutable once registered (AddApp replaces the whole appState),
// so requests read it without locks; those three are guarded by authStore.mu.
type appState struct {
	App
	perms   map[string]bool // nil: all
	denied  map[int64]bool
	allowed []netip.Prefix // empty: every IP
	current *token         // the token gettoken hands out while it is valid
	// oldSecret is still accepted until oldUntil, after a rotation with a grace period.
	oldSecret string
	oldUntil  time.Time
}

func (a *appState) can(perm string) bool { return a.perms == nil || a.perms[perm] }

// outOfScope says whether d or one of its ancestors is denied to the app.
func (a *appState) outOfScope(d *dept) bool {
	if len(a.denied) == 0 {
		return false
	}
	for ; d != nil; d = d.parent {
		if a.denied[d.ID] {
			return true
		}
	}
	return false
}

// token is an issued access token.
type token struct {
	value   string
	app     *appState
	expires time.Time
}

// authStore holds apps, their tokens and the OAuth login state. User access tokens live
// apart from app tokens: neither is accepted where the other is expected.
type authStore struct {
	mu            sync.RWMutex
	ttl           time.Duration
	apps          map[string]*appState
	tokens        map[string]*token
	consent       map[string]string // appKey → the userid who logs in
	codes         map[string]grant  // auth codes
	userTokens    map[string]grant  // user access tokens
	refreshTokens map[string]grant
}

func newAuthStore(ttl time.Duration) *authStore {
	return &authStore{ttl: ttl, apps: map[string]*appState{}, tokens: map[string]*token{}, consent: map[string]string{},
		codes: map[string]grant{}, userTokens: map[string]grant{}, refreshTokens: map[string]grant{}}
}

// AddApp registers app with its corp, which must have an org, or replaces the app of the
// same AppKey (revoking its tokens).
func (s *Server) AddApp(app App) error {
	if app.AppKey == "" || app.AppSecret == "" {
		return fmt.Errorf("%w: appKey and appSecret are required", ErrInvalid)
	}
	allowed, err := parseAllowedIPs(app.AllowedIPs)
	if err != nil {
		return err
	}
	s.mu.RLock()
	_, ok := s.corps[app.CorpID]
	s.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: corp %q has no org: load or generate one first", ErrNotFound, app.CorpID)
	}
	st := &appState{App: app, allowed: allowed}
	st.Permissions = slices.Clone(app.Permissions)
	st.AllowedIPs = slices.Clone(app.AllowedIPs)
	st.DeniedDepartments = slices.Clone(app.DeniedDepartments)
	if app.Permissions != nil {
		st.perms = map[string]bool{}
		for _, p := range app.Permissions {
			st.perms[p] = true
		}
	}
	st.denied = map[int64]bool{}
	for _, d := range app.DeniedDepartments {
		st.denied[d] = true
	}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoke(app.AppKey)
	a.apps[app.AppKey] = st
	return nil
}

// RevokeTokens invalidates every token issued to appKey: calls with them get 40014 (or
// InvalidAuthentication) and the next token request issues a new one.
func (s *Server) RevokeTokens(appKey string) error {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.apps[appKey] == nil {
		return fmt.Errorf("%w: app %q", ErrNotFound, appKey)
	}
	a.revoke(appKey)
	return nil
}

// SetAppSecret changes appKey's secret, as resetting it in the developer console does: the
// old secret is refused from now on (40001 / invalidClientIdOrSecret); tokens already issued
// stay valid until they expire. RotateAppSecret simulates the other semantics DingTalk
// might have (it documents neither).
func (s *Server) SetAppSecret(appKey, secret string) error {
	return s.RotateAppSecret(appKey, secret, SecretRotation{})
}

// SecretRotation is how a reset AppSecret takes effect.
type SecretRotation struct {
	// Grace keeps the old secret valid this long after the reset (0: refused at once).
	Grace time.Duration
	// RevokeTokens invalidates the tokens already issued at once, rather than at expiry.
	RevokeTokens bool
}

// RotateAppSecret changes appKey's secret with the given semantics.
func (s *Server) RotateAppSecret(appKey, secret string, how SecretRotation) error {
	if secret == "" {
		return fmt.Errorf("%w: appSecret is required", ErrInvalid)
	}
	if how.Grace < 0 {
		return fmt.Errorf("%w: grace must not be negative", ErrInvalid)
	}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	app := a.apps[appKey]
	if app == nil {
		return fmt.Errorf("%w: app %q", ErrNotFound, appKey)
	}
	app.oldSecret, app.oldUntil = app.AppSecret, s.clock().Add(how.Grace)
	app.AppSecret = secret
	if how.RevokeTokens {
		a.revoke(appKey)
	}
	return nil
}

// revoke drops appKey's tokens; a.mu is held.
func (a *authStore) revoke(appKey string) {
	for v, t := range a.tokens {
		if t.app.AppKey == appKey {
			delete(a.tokens, v)
		}
	}
	if app := a.apps[appKey]; app != nil {
		app.current = nil
	}
}

// login checks an app's credentials and the caller's IP; a.mu is held. It returns the
// app, or nil and CodeBadAppKey, CodeBadSecret or CodeIPNotAllowed.
func (a *authStore) login(appKey, secret, ip string, now time.Time) (*appState, int) {
	app := a.apps[appKey]
	switch {
	case app == nil:
		return nil, CodeBadAppKey
	case app.AppSecret != secret && (secret != app.oldSecret || !now.Before(app.oldUntil)):
		return nil, CodeBadSecret
	case !app.allows(ip):
		return nil, CodeIPNotAllowed
	}
	return app, CodeOK
}

// issue returns appKey's token, creating one when there is none or it expired; a valid
// token is returned again with its life extended, as DingTalk documents for internal apps.
// It returns nil and an error code (see login) when the call may not have one.
func (a *authStore) issue(appKey, secret, ip string, now time.Time) (*token, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	app, code := a.login(appKey, secret, ip, now)
	if code != CodeOK {
		return nil, code
	}
	if t := app.current; t != nil && now.Before(t.expires) {
		t.expires = now.Add(a.ttl)
		return t, CodeOK
	}
	t := &token{value: newSecret(), app: app, expires: now.Add(a.ttl)}
	a.tokens[t.value] = t // expired ones stay, so that they answer 42001 rather than 40014
	app.current = t
	return t, CodeOK
}

func (a *authStore) ttlSeconds() int64 { return int64(math.Ceil(a.ttl.Seconds())) }

// newSecret is a fresh random token or code.
func newSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// corpOf finds the corp a call is for, without judging it: from the token, or for token
// and login endpoints from the app key. Unknown gives "".
func (a *authStore) corpOf(c *call) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	app, _, _ := a.holder(c)
	if app == nil {
		return ""
	}
	return app.CorpID
}

// holder finds the app a call is for, when its token expires and, for a user token, the
// user, without judging them; a.mu is held.
func (a *authStore) holder(c *call) (app *appState, expires time.Time, userID string) {
	switch c.route.auth {
	case authNone:
		return a.apps[c.route.appKey(c)], expires, ""
	case authUser:
		if g, ok := a.userTokens[c.accessToken()]; ok {
			return a.apps[g.appKey], g.expires, g.userID
		}
	default:
		if t := a.tokens[c.accessToken()]; t != nil {
			return t.app, t.expires, ""
		}
	}
	return nil, expires, ""
}

// accessToken is the token the call presents, where its API family puts it.
func (c *call) accessToken() string {
	if c.route.family == newAPI {
		return c.r.Header.Get(newAPITokenHeader)
	}
	return c.r.URL.Query().Get(oapiTokenParam)
}

// authenticate checks the call's token (an app or a user token, as the route takes) and
// the caller's IP, and sets c.app.
func (a *authStore) authenticate(c *call) (reply, bool) {
	v := c.accessToken()
	a.mu.RLock()
	app, expires, userID := a.holder(c) // issue extends expires under a.mu
	valid := app != nil && c.now.Before(expires)
	allowed := valid && app.allows(c.ip)
	a.mu.RUnlock()
	switch {
	case allowed:
		c.app, c.userID = app, userID
		return reply{}, true
	case valid:
		return c.ipDenied(), false
	case c.route.family == newAPI:
		return c.apiFail(http.StatusBadRequest, APICodeInvalidToken, "不合法的access_token", OutcomeAuth), false
	case v == "":
		return c.fail(CodeMissingToken, "缺少access_token参数", OutcomeAuth), false
	case app == nil:
		return c.fail(CodeInvalidToken, "不合法的access_token", OutcomeAuth), false
	}
	return c.fail(CodeTokenExpired, "access_token超时", OutcomeAuth), false
}

// getToken serves GET /gettoken?appkey=&appsecret= (legacy).
func (s *Server) getToken(c *call) reply {
	q := c.r.URL.Query()
	t, code := s.auth.issue(q.Get("appkey"), q.Get("appsecret"), c.ip, c.now)
	switch code {
	case CodeIPNotAllowed:
		return c.ipDenied()
	case CodeBadAppKey:
		return reply{status: http.StatusOK, outcome: OutcomeAuth,
			body: legacyTokenBody{ErrCode: code, ErrMsg: "不合法的corpid或corpsecret"}}
	case CodeBadSecret:
		return reply{status: http.StatusOK, outcome: OutcomeAuth,
			body: legacyTokenBody{ErrCode: code, ErrMsg: "不合法的secret"}}
	}
	return reply{status: http.StatusOK, outcome: OutcomeOK, body: legacyTokenBody{
		ErrCode: CodeOK, ErrMsg: "ok", AccessToken: t.value, ExpiresIn: s.auth.ttlSeconds()}}
}

// legacyTokenBody is the /gettoken response.
type legacyTokenBody struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token,omitempty"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
}

// accessTokenRequest is the POST /v1.0/oauth2/accessToken body.
type accessTokenRequest struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

// accessTokenBody is its response.
type accessTokenBody struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

// accessToken serves POST /v1.0/oauth2/accessToken (new API).
func (s *Server) accessToken(c *call) reply {
	var req accessTokenRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return c.apiFail(http.StatusBadRequest, APICodeInvalidParam, "body is not valid JSON", OutcomeInvalid)
	}
	t, code := s.auth.issue(req.AppKey, req.AppSecret, c.ip, c.now)
	switch code {
	case CodeOK:
	case CodeIPNotAllowed:
		return c.ipDenied()
	default:
		return c.apiFail(http.StatusBadRequest, APICodeBadCredentials, "无效的clientId或者clientSecret", OutcomeAuth)
	}
	return c.ok(accessTokenBody{AccessToken: t.value, ExpireIn: s.auth.ttlSeconds()})
}
