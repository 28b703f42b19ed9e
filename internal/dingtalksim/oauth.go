package dingtalksim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"time"
)

// The OAuth2 user login of dingtalk-api.md §7: the browser login page, the code exchange
// and the logged-in user's profile.

const (
	authCodeTTL     = 5 * time.Minute
	refreshTokenTTL = 30 * 24 * time.Hour
)

// grant is what an auth code, a user access token or a refresh token stands for: a user
// logged in to an app, until expires.
type grant struct {
	appKey, userID string
	expires        time.Time
}

// SetConsentingUser chooses the user who logs in to appKey on the login page (the
// simulator consents at once, as that user); userID "" clears the choice, so that the
// page answers "no user to log in as".
func (s *Server) SetConsentingUser(appKey, userID string) error {
	a := s.auth
	a.mu.RLock()
	app := a.apps[appKey]
	a.mu.RUnlock()
	if app == nil {
		return fmt.Errorf("%w: app %q", ErrNotFound, appKey)
	}
	if userID != "" && !s.hasUser(app.CorpID, userID) {
		return fmt.Errorf("%w: user %q of corp %q", ErrNotFound, userID, app.CorpID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.consent[appKey] = userID
	return nil
}

// hasUser says whether userID is a current user of corpID.
func (s *Server) hasUser(corpID, userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.corps[corpID]
	return c != nil && c.users[userID] != nil
}

// oauthAuthorize serves GET /oauth2/auth?redirect_uri=&response_type=code&client_id=
// &scope=&state=&prompt= (login.dingtalk.com): it logs the consenting user in and
// redirects to redirect_uri with authCode and state. Bad requests get an HTML page.
func (s *Server) oauthAuthorize(c *call) reply {
	q := c.r.URL.Query()
	redirect, state := q.Get("redirect_uri"), q.Get("state")
	target, err := url.Parse(redirect)
	a := s.auth
	a.mu.RLock()
	app, userID := a.apps[q.Get("client_id")], a.consent[q.Get("client_id")]
	a.mu.RUnlock()
	switch {
	case app == nil:
		return loginError(OutcomeAuth, "unknown client_id")
	case redirect == "":
		return loginError(OutcomeInvalid, "redirect_uri is missing")
	case err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "":
		return loginError(OutcomeInvalid, "redirect_uri is not an http(s) URL")
	case state == "":
		return loginError(OutcomeInvalid, "state is missing")
	case q.Get("response_type") != "code":
		return loginError(OutcomeInvalid, "response_type must be code")
	case userID == "":
		return loginError(OutcomeInvalid, "no user to log in as")
	case !s.hasUser(app.CorpID, userID):
		return loginError(OutcomeInvalid, "user "+userID+" is no longer in the corp")
	}
	code := newSecret()
	a.mu.Lock()
	a.codes[code] = grant{appKey: app.AppKey, userID: userID, expires: c.now.Add(authCodeTTL)}
	a.mu.Unlock()
	if target.RawQuery != "" {
		target.RawQuery += "&"
	}
	target.RawQuery += url.Values{"authCode": {code}, "state": {state}}.Encode()
	return reply{status: http.StatusFound, location: target.String(), ctype: "text/html;charset=utf-8", raw: []byte{}, outcome: OutcomeOK}
}

// loginError is the login page's answer to a bad request.
func loginError(outcome, why string) reply {
	page := "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>登录失败</title></head>\n<body><h1>登录失败</h1><p>" +
		html.EscapeString(why) + "</p></body></html>\n"
	return reply{status: http.StatusBadRequest, ctype: "text/html;charset=utf-8", raw: []byte(page), outcome: outcome}
}

// userTokenRequest is the body of POST /v1.0/oauth2/userAccessToken.
type userTokenRequest struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Code         string `json:"code"`
	RefreshToken string `json:"refreshToken"`
	GrantType    string `json:"grantType"`
}

// userTokenBody is its response.
type userTokenBody struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpireIn     int64  `json:"expireIn"`
	CorpID       string `json:"corpId"`
}

// userAccessToken serves POST /v1.0/oauth2/userAccessToken: an auth code or a refresh
// token for a user access token and a new refresh token. Codes and refresh tokens are
// one-time.
func (s *Server) userAccessToken(c *call) reply {
	var req userTokenRequest
	if rep, ok := c.decode(&req); !ok {
		return rep
	}
	body, code := s.auth.exchange(req, c.ip, c.now)
	switch code {
	case "":
		return c.ok(body)
	case APICodeIPNotAllowed:
		return c.ipDenied()
	case APICodeUnsupportedGrant:
		return c.apiFail(http.StatusBadRequest, code, "grantType must be authorization_code or refresh_token", OutcomeInvalid)
	case APICodeBadCredentials:
		return c.apiFail(http.StatusBadRequest, code, "无效的clientId或者clientSecret", OutcomeAuth)
	}
	return c.apiFail(http.StatusBadRequest, code, "不合法的临时授权码", OutcomeAuth)
}

// exchange redeems req's code or refresh token for a new token pair, or returns the
// new-API error code that refuses it.
func (a *authStore) exchange(req userTokenRequest, ip string, now time.Time) (userTokenBody, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	app, code := a.login(req.ClientID, req.ClientSecret, ip, now)
	switch code {
	case CodeOK:
	case CodeIPNotAllowed:
		return userTokenBody{}, APICodeIPNotAllowed
	default:
		return userTokenBody{}, APICodeBadCredentials
	}
	from, key := a.codes, req.Code
	switch req.GrantType {
	case "authorization_code":
	case "refresh_token":
		from, key = a.refreshTokens, req.RefreshToken
	default:
		return userTokenBody{}, APICodeUnsupportedGrant
	}
	g, ok := from[key]
	delete(from, key)
	if !ok || g.appKey != app.AppKey || !now.Before(g.expires) {
		return userTokenBody{}, APICodeInvalidAuthCode
	}
	out := userTokenBody{AccessToken: newSecret(), RefreshToken: newSecret(), ExpireIn: a.ttlSeconds(), CorpID: app.CorpID}
	a.userTokens[out.AccessToken] = grant{appKey: g.appKey, userID: g.userID, expires: now.Add(a.ttl)}
	a.refreshTokens[out.RefreshToken] = grant{appKey: g.appKey, userID: g.userID, expires: now.Add(refreshTokenTTL)}
	return out, ""
}

// meBody is the response of GET /v1.0/contact/users/me.
type meBody struct {
	Nick      string `json:"nick"`
	UnionID   string `json:"unionId"`
	OpenID    string `json:"openId"`
	Mobile    string `json:"mobile,omitempty"`
	Email     string `json:"email,omitempty"`
	AvatarURL string `json:"avatarUrl,omitempty"`
	StateCode string `json:"stateCode"`
}

// usersMe serves GET /v1.0/contact/users/me: the profile of the user a user access token
// stands for. A user who has left since is refused like a bad token.
func (s *Server) usersMe(c *call) reply {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.orgOf(c).users[c.userID]
	if u == nil {
		return c.apiFail(http.StatusBadRequest, APICodeInvalidToken, "the user has left the corp", OutcomeAuth)
	}
	return c.ok(meBody{Nick: u.Name, UnionID: u.UnionID, OpenID: openID(c.app.AppKey, u.UserID),
		Mobile: u.Mobile, Email: u.Email, AvatarURL: u.Avatar, StateCode: u.StateCode})
}

// openID is a user's stable id within one app.
func openID(appKey, userID string) string {
	sum := sha1.Sum([]byte(appKey + "/" + userID))
	return "simopen" + hex.EncodeToString(sum[:11])
}

func (s *Server) adminSetConsent(r *http.Request) (int, any, error) {
	var req struct {
		AppKey string `json:"appKey"`
		UserID string `json:"userId"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	if err := s.SetConsentingUser(req.AppKey, req.UserID); err != nil {
		return 0, nil, err
	}
	s.logger.Info("consenting user set", "appKey", req.AppKey, "userId", req.UserID)
	return http.StatusNoContent, nil, nil
}
