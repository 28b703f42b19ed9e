package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenKey identifies a cached token: tokens of another credential version are never used.
type tokenKey struct {
	appKey  string
	version int
}

type cachedToken struct {
	value   string
	expires time.Time
}

// tokenCache holds one access token per (AppKey, CredentialVersion). gens counts the
// invalidations per AppKey, so a fetch that started before InvalidateTokens cannot store
// its token afterwards, and callers after it do not join that fetch.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[tokenKey]cachedToken
	gens   map[string]uint64
	flight singleflight.Group
}

// get returns the cached token of key if it is still fresh at now, and the generation.
func (tc *tokenCache) get(key tokenKey, now time.Time) (string, uint64, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, ok := tc.tokens[key]
	return t.value, tc.gens[key.appKey], ok && now.Before(t.expires)
}

// put stores a token fetched in generation gen, unless the app was invalidated since.
func (tc *tokenCache) put(key tokenKey, gen uint64, t cachedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.gens[key.appKey] == gen {
		tc.tokens[key] = t
	}
}

// drop forgets the token of key if it is still value (another caller may have replaced it).
func (tc *tokenCache) drop(key tokenKey, value string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tokens[key].value == value {
		delete(tc.tokens, key)
	}
}

// invalidate forgets every token of appKey.
func (tc *tokenCache) invalidate(appKey string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.gens[appKey]++
	for key := range tc.tokens {
		if key.appKey == appKey {
			delete(tc.tokens, key)
		}
	}
}

// InvalidateTokens drops the cached tokens of appKey (all credential versions), e.g. after
// its secret was rotated.
func (c *Client) InvalidateTokens(appKey string) {
	c.tokens.invalidate(appKey)
}

// Token returns an access token for app, from the cache or fetched with its AppKey and
// AppSecret; concurrent callers share one fetch. A successful call proves the credentials.
func (c *Client) Token(ctx context.Context, app App) (string, error) {
	if app.AppKey == "" || app.AppSecret == "" {
		return "", &Error{Kind: KindAuth, API: APIToken, Message: "app key or app secret is empty"}
	}
	key := tokenKey{app.AppKey, app.CredentialVersion}
	token, gen, ok := c.tokens.get(key, c.now())
	if ok {
		return token, nil
	}
	// The fetch outlives any one caller's cancellation, since others may be waiting on it.
	ch := c.tokens.flight.DoChan(fmt.Sprintf("%s\x00%d\x00%d", key.appKey, key.version, gen), func() (any, error) {
		return c.fetchToken(context.WithoutCancel(ctx), app, key, gen)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("dingtalk %s: %w", APIToken, ctx.Err())
	}
}

type tokenParams struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

type tokenResult struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

// fetchToken gets a new token from DingTalk and caches it for generation gen.
func (c *Client) fetchToken(ctx context.Context, app App, key tokenKey, gen uint64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.MaxAttempts)*(c.cfg.RequestTimeout+maxBackoff))
	defer cancel()
	body, err := json.Marshal(tokenParams{AppKey: app.AppKey, AppSecret: app.AppSecret})
	if err != nil {
		return "", &Error{Kind: KindInvalidRequest, API: APIToken, Message: "encode request: " + err.Error()}
	}
	var result tokenResult
	start := c.now()
	err = c.retry(ctx, func() error {
		return c.send(ctx, app, c.apiRequest(http.MethodPost, APIToken, "", nil, body, func(raw []byte) error {
			var r tokenResult
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r.AccessToken == "" || r.ExpireIn <= 0 {
				return errors.New("no accessToken or expireIn")
			}
			result = r
			return nil
		}))
	})
	if err != nil {
		return "", err
	}
	c.tokens.put(key, gen, cachedToken{value: result.AccessToken, expires: start.Add(tokenTTL(result.ExpireIn))})
	return result.AccessToken, nil
}

// tokenTTL is how long a token valid for expireIn seconds is used: until DefaultTokenMargin
// before it expires, but at least half its life.
func tokenTTL(expireIn int64) time.Duration {
	life := time.Duration(expireIn) * time.Second
	return max(life-DefaultTokenMargin, life/2)
}
