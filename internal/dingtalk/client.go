package dingtalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

const (
	// defaultRetryBase is the first backoff of a transient failure; it doubles per attempt.
	defaultRetryBase = 200 * time.Millisecond
	// maxClientWait is the longest throttling the client waits out itself; longer ones (the
	// IP ban, per-minute limits) go back to the caller, which can schedule a retry.
	maxClientWait = 2 * time.Second
	// maxBackoff caps one backoff sleep.
	maxBackoff = 8 * time.Second
	// maxBodyBytes caps a response body; a user/list page is far smaller.
	maxBodyBytes = 16 << 20
)

// Client calls the DingTalk Open Platform for any number of apps. It is safe for concurrent
// use; create one per process so its token cache and rate limits are shared.
type Client struct {
	cfg       Config
	tokens    tokenCache
	now       func() time.Time
	retryBase time.Duration
}

// New returns a client for cfg, with defaults for its zero fields (see Config).
func New(cfg Config) *Client {
	return &Client{
		cfg:       cfg.withDefaults(),
		tokens:    tokenCache{tokens: make(map[tokenKey]cachedToken), gens: make(map[string]uint64)},
		now:       time.Now,
		retryBase: defaultRetryBase,
	}
}

// request is one HTTP request to DingTalk, built afresh for every attempt.
type request struct {
	api    string
	method string
	url    string // carries the access token for oapi calls: never put it in an error
	header http.Header
	body   []byte
	token  string // redacted from errors
	// secrets are further request values redacted from errors: an auth code, a user token,
	// a callback token or AES key.
	secrets []string
	parse   func(status int, header http.Header, body []byte) error
}

// redact removes r's token and secrets, and app's secret, from s.
func (r *request) redact(s string, app App) string {
	return redact(s, append([]string{r.token, app.AppSecret}, r.secrets...)...)
}

// call sends the request build makes with app's access token, fetches a new token and
// retries once if DingTalk rejects the token, and retries brief throttling and transient
// failures up to MaxAttempts.
func (c *Client) call(ctx context.Context, app App, build func(token string) *request) error {
	refetched := false
	return c.retry(ctx, func() error {
		token, err := c.Token(ctx, app)
		if err != nil {
			return err
		}
		err = c.send(ctx, app, build(token))
		if refetched || !tokenRejected(err) {
			return err
		}
		refetched = true
		c.tokens.drop(tokenKey{app.AppKey, app.CredentialVersion}, token)
		if token, err = c.Token(ctx, app); err != nil {
			return err
		}
		return c.send(ctx, app, build(token))
	})
}

// retry runs attempt until it succeeds, fails for good, or MaxAttempts are spent.
func (c *Client) retry(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		delay, ok := c.retryDelay(err, n)
		if !ok {
			return err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			markExhausted(err)
			return fmt.Errorf("%w; retry abandoned: %w", err, ctx.Err())
		case <-timer.C:
		}
	}
}

// retryDelay says whether the n-th attempt's err is worth another attempt, and after how long.
func (c *Client) retryDelay(err error, n int) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e.exhausted {
		return 0, false
	}
	base := c.retryBase
	switch {
	case e.Kind == KindTransient:
	case e.Kind == KindThrottled && e.RetryAfter <= maxClientWait:
		base = max(base, e.RetryAfter)
	default:
		return 0, false
	}
	if n >= c.cfg.MaxAttempts {
		markExhausted(e)
		return 0, false
	}
	d := min(base<<(n-1), maxBackoff)
	return d + rand.N(d/4+1), true
}

// markExhausted records that err's retries are spent, so an outer retry loop (a call
// around a token fetch) does not retry it again. Errors leaving retry are final: they may
// be shared between the callers of one token fetch.
func markExhausted(err error) {
	var e *Error
	if errors.As(err, &e) {
		e.exhausted = true
	}
}

// send waits for the rate limiter, then sends r and classifies the answer, counting and
// observing the request.
func (c *Client) send(ctx context.Context, app App, r *request) error {
	if err := c.cfg.Limiter.Wait(ctx, app.CorpID, r.api); err != nil {
		return fmt.Errorf("dingtalk %s: wait for rate limit: %w", r.api, err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(reqCtx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return &Error{Kind: KindInvalidRequest, API: r.api,
			Message: r.redact("build request: "+err.Error(), app)}
	}
	hreq.Header = r.header
	counter := counterFrom(ctx)
	counter.add(r.api)
	start := time.Now()
	err = c.exchange(ctx, hreq, r)
	outcome := OutcomeOK
	var e *Error
	switch {
	case errors.As(err, &e):
		e.Message = r.redact(e.Message, app)
		outcome = e.Kind.String()
		if e.Kind == KindThrottled {
			counter.addThrottled()
		}
	case err != nil:
		outcome = OutcomeCanceled
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.ObserveRequest(r.api, outcome, time.Since(start))
	}
	return err
}

// exchange performs hreq and parses its response.
func (c *Client) exchange(ctx context.Context, hreq *http.Request, r *request) error {
	resp, err := c.cfg.HTTPClient.Do(hreq)
	if err != nil {
		return c.transportFailure(ctx, r.api, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return c.transportFailure(ctx, r.api, err)
	}
	if len(body) > maxBodyBytes {
		return malformed(r.api, resp.StatusCode, fmt.Errorf("body larger than %d bytes", maxBodyBytes))
	}
	if err := checkText(body); err != nil {
		return malformed(r.api, resp.StatusCode, err)
	}
	return r.parse(resp.StatusCode, resp.Header, body)
}

// checkText refuses a JSON answer the HR store could not keep as it came: invalid UTF-8 (Go
// would replace it silently) or a NUL character (Postgres refuses it in text and jsonb).
// Other bodies (DingTalk's HTML error pages) are left to the classifier.
func checkText(body []byte) error {
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	switch {
	case !utf8.Valid(body):
		return errors.New("the answer is not valid UTF-8")
	case bytes.IndexByte(body, 0) >= 0 || bytes.Contains(body, []byte(`\u0000`)):
		return errors.New("the answer holds a NUL character")
	}
	return nil
}

// transportFailure reports a request that got no (complete) response. The caller's own
// cancellation is returned as such; anything else is transient. The request URL, which
// *url.Error would print, is dropped.
func (c *Client) transportFailure(ctx context.Context, api string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("dingtalk %s: %w", api, ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return transportError(api, err, c.cfg.RequestTimeout)
}
