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

// AuthorizeURL returns the DingTalk login page that asks the user to authorize app appKey
// (scope openid, consent always asked) and then sends the browser to redirectURI with
// authCode and state in the query.
func (c *Client) AuthorizeURL(appKey, redirectURI, state string) string {
	params := [][2]string{
		{"redirect_uri", redirectURI},
		{"response_type", "code"},
		{"client_id", appKey},
		{"scope", "openid"},
		{"state", state},
		{"prompt", "consent"},
	}
	query := make([]string, len(params))
	for i, p := range params {
		query[i] = p[0] + "=" + url.QueryEscape(p[1])
	}
	return c.cfg.LoginBaseURL + "/oauth2/auth?" + strings.Join(query, "&")
}

// UserToken is a user's access token from ExchangeAuthCode. Both tokens are secrets: String
// redacts them, and the type has no JSON encoding.
type UserToken struct {
	AccessToken string
	// RefreshToken renews AccessToken for 30 days.
	RefreshToken string
	// ExpireIn is AccessToken's lifetime in seconds (7200).
	ExpireIn int64
	// CorpID is the org the user signed in to, when DingTalk returns it.
	CorpID string
}

// String describes the token without its secrets, so a UserToken can be logged.
func (t UserToken) String() string {
	return fmt.Sprintf("user token [redacted] of corp %s (expires in %d s, refresh token [redacted])",
		t.CorpID, t.ExpireIn)
}

// GoString keeps %#v from printing the tokens too.
func (t UserToken) GoString() string { return t.String() }

type userTokenParams struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Code         string `json:"code"`
	GrantType    string `json:"grantType"`
}

type userTokenResult struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpireIn     int64  `json:"expireIn"`
	CorpID       string `json:"corpId"`
}

// ExchangeAuthCode trades the authorization code a browser brought back from AuthorizeURL
// for the user's token. Bad app credentials are KindAuth; a code that is invalid, expired or
// already used is KindInvalidRequest with Code "InvalidAuthCode". Neither the code nor the
// tokens ever appear in an error.
func (c *Client) ExchangeAuthCode(ctx context.Context, app App, code string) (UserToken, error) {
	if app.AppKey == "" || app.AppSecret == "" {
		return UserToken{}, &Error{Kind: KindAuth, API: APIUserAccessToken, Message: "app key or app secret is empty"}
	}
	if code == "" {
		return UserToken{}, invalidArgument(APIUserAccessToken, "empty authorization code")
	}
	body, err := json.Marshal(userTokenParams{ClientID: app.AppKey, ClientSecret: app.AppSecret, Code: code,
		GrantType: "authorization_code"})
	if err != nil {
		return UserToken{}, &Error{Kind: KindInvalidRequest, API: APIUserAccessToken, Message: "encode request: " + err.Error()}
	}
	var token UserToken
	err = c.retry(ctx, func() error {
		r := c.apiRequest(http.MethodPost, APIUserAccessToken, "", nil, body, func(raw []byte) error {
			var res userTokenResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			if res.AccessToken == "" || res.ExpireIn <= 0 {
				return errors.New("no accessToken or expireIn")
			}
			token = UserToken(res)
			return nil
		})
		r.secrets = []string{code}
		return c.send(ctx, app, r)
	})
	return token, err
}

// CurrentUser is the signed-in user of a user token, from /v1.0/contact/users/me. Mobile
// and Email are empty unless the user's authorization covers them.
type CurrentUser struct {
	Nick      string `json:"nick"`
	UnionID   string `json:"unionId"`
	OpenID    string `json:"openId"`
	Mobile    string `json:"mobile"`
	Email     string `json:"email"`
	AvatarURL string `json:"avatarUrl"`
	StateCode string `json:"stateCode"`
}

// GetCurrentUser returns the user userToken (UserToken.AccessToken) belongs to. It sends the
// user's token, never an app token, so a rejected token is not refetched: it is KindAuth
// with a hint to sign in again. corpID only keys the rate limiter.
func (c *Client) GetCurrentUser(ctx context.Context, corpID string, userToken string) (CurrentUser, error) {
	if userToken == "" {
		return CurrentUser{}, invalidArgument(APICurrentUser, "empty user token")
	}
	var user CurrentUser
	err := c.retry(ctx, func() error {
		return c.send(ctx, App{CorpID: corpID}, c.apiRequest(http.MethodGet, APICurrentUser, userToken, nil, nil,
			func(raw []byte) error {
				var u CurrentUser
				if err := json.Unmarshal(raw, &u); err != nil {
					return err
				}
				if u.UnionID == "" {
					return errors.New("no unionId")
				}
				user = u
				return nil
			}))
	})
	var e *Error
	if errors.As(err, &e) && e.Kind == KindAuth && e.hint == "" {
		e.hint = hintUserLogin
	}
	return user, err
}

type unionIDParams struct {
	UnionID string `json:"unionid"`
}

type unionIDResult struct {
	UserID string `json:"userid"`
}

// UserIDByUnionID returns the userid in app's org of the user with unionID (e.g.
// CurrentUser.UnionID); someone who is not a member of the org is KindNotFound.
func (c *Client) UserIDByUnionID(ctx context.Context, app App, unionID string) (string, error) {
	if unionID == "" {
		return "", invalidArgument(APIUserGetByUnionID, "empty unionid")
	}
	res, err := oapiCall(ctx, c, app, APIUserGetByUnionID, unionIDParams{unionID}, func(r *unionIDResult) error {
		if r.UserID == "" {
			return errors.New("no userid")
		}
		return nil
	})
	return res.UserID, err
}
