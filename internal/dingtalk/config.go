package dingtalk

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultOAPIBaseURL is the legacy API host.
	DefaultOAPIBaseURL = "https://oapi.dingtalk.com"
	// DefaultAPIBaseURL is the new API host.
	DefaultAPIBaseURL = "https://api.dingtalk.com"
	// DefaultLoginBaseURL is the host of the browser login (OAuth2 authorization) page.
	DefaultLoginBaseURL = "https://login.dingtalk.com"
	// DefaultSafetyFactor keeps the client at 95% of DingTalk's per-second limit.
	DefaultSafetyFactor = 0.95
	// DefaultIPCallsPer20s stays under DingTalk's 10,000 calls per 20 s per egress IP.
	DefaultIPCallsPer20s = 9500
	// DefaultRequestTimeout bounds one HTTP request.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxAttempts bounds the attempts of a throttled or transiently failing call.
	DefaultMaxAttempts = 4
)

// Config configures a Client. New fills zero fields with the defaults, except IPCallsPer20s,
// where 0 disables the egress-IP limit: start from DefaultConfig to keep it.
type Config struct {
	// OAPIBaseURL is the legacy API host (default DefaultOAPIBaseURL).
	OAPIBaseURL string
	// APIBaseURL is the new API host (default DefaultAPIBaseURL).
	APIBaseURL string
	// LoginBaseURL is the host AuthorizeURL sends browsers to (default DefaultLoginBaseURL).
	LoginBaseURL string
	// QPS is DingTalk's limit per corp per API (default DefaultQPS; paid orgs up to 60).
	QPS float64
	// SafetyFactor scales QPS so client-side jitter never trips DingTalk's fixed 1-second
	// window (default DefaultSafetyFactor; must be in (0, 1]).
	SafetyFactor float64
	// IPCallsPer20s caps all calls of this process, since DingTalk bans an egress IP for
	// 5 minutes past 10,000 calls in 20 s. 0 disables the cap.
	IPCallsPer20s int
	// HTTPClient sends the requests (default: a client with pooled keep-alive connections).
	HTTPClient *http.Client
	// RequestTimeout bounds each HTTP request (default DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of a call that is throttled briefly or fails
	// transiently (default DefaultMaxAttempts).
	MaxAttempts int
	// Limiter paces the calls (default: a LocalLimiter built from QPS, SafetyFactor and
	// IPCallsPer20s, which it then replaces).
	Limiter Limiter
	// Observer, if set, is told about every HTTP request.
	Observer Observer
}

// DefaultConfig returns the configuration for the real DingTalk hosts.
func DefaultConfig() Config {
	return Config{
		OAPIBaseURL:    DefaultOAPIBaseURL,
		APIBaseURL:     DefaultAPIBaseURL,
		LoginBaseURL:   DefaultLoginBaseURL,
		QPS:            DefaultQPS,
		SafetyFactor:   DefaultSafetyFactor,
		IPCallsPer20s:  DefaultIPCallsPer20s,
		RequestTimeout: DefaultRequestTimeout,
		MaxAttempts:    DefaultMaxAttempts,
	}
}

// ConfigFromEnv returns DefaultConfig overridden by DINGTALK_OAPI_BASE_URL,
// DINGTALK_API_BASE_URL, DINGTALK_LOGIN_BASE_URL (e.g. pointing at the simulator),
// DINGTALK_QPS and DINGTALK_IP_CALLS_PER_20S.
func ConfigFromEnv() (Config, error) {
	cfg := DefaultConfig()
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{"DINGTALK_OAPI_BASE_URL", &cfg.OAPIBaseURL},
		{"DINGTALK_API_BASE_URL", &cfg.APIBaseURL},
		{"DINGTALK_LOGIN_BASE_URL", &cfg.LoginBaseURL},
	} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("%s: want an http(s) URL, got %q", v.name, s)
		}
		*v.dst = s
	}
	if s := os.Getenv("DINGTALK_QPS"); s != "" {
		qps, err := strconv.ParseFloat(s, 64)
		if err != nil || qps <= 0 || math.IsInf(qps, 0) || math.IsNaN(qps) {
			return Config{}, fmt.Errorf("DINGTALK_QPS: want a positive number, got %q", s)
		}
		cfg.QPS = qps
	}
	if s := os.Getenv("DINGTALK_IP_CALLS_PER_20S"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("DINGTALK_IP_CALLS_PER_20S: want a whole number of calls (0 disables the cap), got %q", s)
		}
		cfg.IPCallsPer20s = n
	}
	return cfg, nil
}

// withDefaults fills zero or out-of-range fields.
func (c Config) withDefaults() Config {
	if c.OAPIBaseURL == "" {
		c.OAPIBaseURL = DefaultOAPIBaseURL
	}
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.LoginBaseURL == "" {
		c.LoginBaseURL = DefaultLoginBaseURL
	}
	c.OAPIBaseURL = strings.TrimRight(c.OAPIBaseURL, "/")
	c.APIBaseURL = strings.TrimRight(c.APIBaseURL, "/")
	c.LoginBaseURL = strings.TrimRight(c.LoginBaseURL, "/")
	if !(c.QPS > 0) {
		c.QPS = DefaultQPS
	}
	if !(c.SafetyFactor > 0 && c.SafetyFactor <= 1) {
		c.SafetyFactor = DefaultSafetyFactor
	}
	if c.IPCallsPer20s < 0 {
		c.IPCallsPer20s = 0
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			// Many workers call the same two hosts: keep their connections alive.
			t = t.Clone()
			t.MaxIdleConnsPerHost = 64
			c.HTTPClient.Transport = t
		}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Limiter == nil {
		c.Limiter = NewLocalLimiter(c.QPS*c.SafetyFactor, c.IPCallsPer20s)
	}
	return c
}
