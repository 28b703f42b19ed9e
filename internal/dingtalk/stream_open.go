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

// APIStreamOpen opens a Stream mode connection: it proves the app's credentials and returns
// the WebSocket endpoint and a one-time ticket.
const APIStreamOpen = "/v1.0/gateway/connections/open"

// StreamUserAgent is the ua dingsync reports when it opens a Stream connection.
const StreamUserAgent = "dingsync-stream/1"

// StreamSubscription is one kind of frame the connection asks for: type EVENT with topic "*"
// for every event the app subscribes to in the developer console.
type StreamSubscription struct {
	Type  string `json:"type"`
	Topic string `json:"topic"`
}

// EventSubscriptions asks for every event, which is all dingsync needs.
var EventSubscriptions = []StreamSubscription{{Type: StreamTypeEvent, Topic: "*"}}

// StreamEndpoint is where to dial a Stream connection. Ticket is a one-time credential: String
// redacts it, and URL must not be logged.
type StreamEndpoint struct {
	Endpoint string `json:"endpoint"`
	Ticket   string `json:"ticket"`
}

// String describes the endpoint without its ticket.
func (e StreamEndpoint) String() string { return e.Endpoint + " (ticket [redacted])" }

// GoString keeps %#v from printing the ticket too.
func (e StreamEndpoint) GoString() string { return e.String() }

// URL is the WebSocket URL to dial: the endpoint with the ticket in its query.
func (e StreamEndpoint) URL() string {
	sep := "?"
	if strings.Contains(e.Endpoint, "?") {
		sep = "&"
	}
	return e.Endpoint + sep + "ticket=" + url.QueryEscape(e.Ticket)
}

type streamOpenParams struct {
	ClientID      string               `json:"clientId"`
	ClientSecret  string               `json:"clientSecret"`
	Subscriptions []StreamSubscription `json:"subscriptions"`
	UserAgent     string               `json:"ua"`
	LocalIP       string               `json:"localIp,omitempty"`
	Extras        map[string]string    `json:"extras"`
}

// OpenStream asks the gateway on the API host for a Stream connection of app with subs (nil:
// EventSubscriptions). Bad credentials are KindAuth; neither the secret nor the ticket ever
// appears in an error.
func (c *Client) OpenStream(ctx context.Context, app App, subs []StreamSubscription) (StreamEndpoint, error) {
	if app.AppKey == "" || app.AppSecret == "" {
		return StreamEndpoint{}, &Error{Kind: KindAuth, API: APIStreamOpen, Message: "app key or app secret is empty"}
	}
	if subs == nil {
		subs = EventSubscriptions
	}
	body, err := json.Marshal(streamOpenParams{ClientID: app.AppKey, ClientSecret: app.AppSecret,
		Subscriptions: subs, UserAgent: StreamUserAgent, Extras: map[string]string{}})
	if err != nil {
		return StreamEndpoint{}, invalidArgument(APIStreamOpen, "encode request: %v", err)
	}
	var ep StreamEndpoint
	err = c.retry(ctx, func() error {
		return c.send(ctx, app, c.apiRequest(http.MethodPost, APIStreamOpen, "", nil, body, func(raw []byte) error {
			var res StreamEndpoint
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			if res.Endpoint == "" || res.Ticket == "" {
				return errors.New("no endpoint or ticket")
			}
			u, err := url.Parse(res.Endpoint)
			if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				return fmt.Errorf("endpoint %q is not a ws(s) URL", res.Endpoint)
			}
			ep = res
			return nil
		}))
	})
	return ep, err
}
