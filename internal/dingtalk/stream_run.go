package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"time"

	"github.com/coder/websocket"
)

// StreamOptions tune RunStream. Zero fields take the defaults.
type StreamOptions struct {
	// Subscriptions are what the connection asks for (default EventSubscriptions).
	Subscriptions []StreamSubscription
	// KeepAlive is how often the socket is pinged (default 60 s); PongWait how long a pong
	// may take before the connection counts as dead (default 5 s).
	KeepAlive, PongWait time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting after a failure (default
	// 250 ms, doubling per failure up to 30 s). A bad AppKey/AppSecret waits MaxBackoff. After
	// DingTalk's disconnect the client reconnects at once.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds opening and dialing one connection (default 15 s).
	DialTimeout time.Duration
	// Logger receives connection changes (default slog.Default()). Nothing logged holds a
	// secret or a ticket.
	Logger *slog.Logger
	// OnConnect, if set, is called each time a connection is up.
	OnConnect func()
}

func (o StreamOptions) withDefaults() StreamOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepAlive, 60*time.Second)
	def(&o.PongWait, 5*time.Second)
	def(&o.MinBackoff, 250*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.DialTimeout, 15*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// RunStream keeps a Stream connection of the app open until ctx ends, handing every EVENT frame
// to handle: it opens the connection, dials it, serves it, and reconnects with backoff when it
// fails or DingTalk asks it to disconnect. app is called before every connection, so a rotated
// AppSecret is used from the next one on. It returns ctx's error.
func (c *Client) RunStream(ctx context.Context, app func(context.Context) (App, error), handle StreamHandler, opts StreamOptions) error {
	opts = opts.withDefaults()
	failures := 0
	for {
		a, err := app(ctx)
		connected := false
		if err == nil {
			connected, err = c.serveStream(ctx, a, handle, opts)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errStreamDisconnect) {
			opts.Logger.Info("dingtalk stream: disconnect requested; reconnecting", "corp", a.CorpID)
			failures = 0
			continue
		}
		if connected {
			failures = 0
		}
		delay := streamBackoff(opts, failures, err)
		failures++
		opts.Logger.Warn("dingtalk stream: connection lost; reconnecting", "corp", a.CorpID, "in", delay.Round(time.Millisecond), "error", err)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// streamBackoff is the wait before the next connection after failures failures in a row.
func streamBackoff(o StreamOptions, failures int, err error) time.Duration {
	if IsKind(err, KindAuth) {
		return o.MaxBackoff
	}
	d := o.MinBackoff << min(failures, 16)
	d = min(d, o.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// serveStream opens, dials and serves one connection; connected says whether it got that far.
func (c *Client) serveStream(ctx context.Context, app App, handle StreamHandler, opts StreamOptions) (connected bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	ep, err := c.OpenStream(dctx, app, opts.Subscriptions)
	if err != nil {
		return false, err
	}
	ws, resp, err := websocket.Dial(dctx, ep.URL(), &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {StreamUserAgent}}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		msg := ticketPattern.ReplaceAllString(redact(err.Error(), ep.Ticket, app.AppSecret), "${1}[redacted]")
		return false, dialError(status, msg)
	}
	opts.Logger.Info("dingtalk stream: connected", "corp", app.CorpID, "endpoint", ep.Endpoint)
	if opts.OnConnect != nil {
		opts.OnConnect()
	}
	s := &streamConn{ws: ws, handle: handle, opts: opts, corpID: app.CorpID, log: opts.Logger}
	return true, s.run(ctx)
}

var ticketPattern = regexp.MustCompile(`(?i)(ticket=)[^&\s"']+`)

// dialError classifies a failed WebSocket dial: a refused ticket (401/403) or any other failure
// is transient, since a fresh connection fetches a fresh ticket.
func dialError(status int, msg string) *Error {
	return &Error{Kind: KindTransient, API: "stream dial", HTTPStatus: status, Message: fmt.Sprintf("dial the stream endpoint: %s", msg)}
}
