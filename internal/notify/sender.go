package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Defaults of a Sender's timing.
const (
	// DefaultEvery is how often the sender looks for due notifications.
	DefaultEvery = 2 * time.Second
	// maxBackoff caps the wait between failed attempts (and between result checks).
	maxBackoff = 15 * time.Minute
	// giveUpAfter is how long a notification DingTalk keeps refusing (bad credentials,
	// throttling, outages) is retried before it fails.
	giveUpAfter = 24 * time.Hour
	// maxResultChecks is how often getsendresult is asked before recipients it does not
	// report yet are left as sent (unconfirmed).
	maxResultChecks = 5
)

// chinaTime is the zone DingTalk counts its days in (UTC+8, no daylight saving).
var chinaTime = time.FixedZone("CST", 8*3600)

// Sender delivers the outbox: it sends pending notifications with asyncsend_v2 within
// DingTalk's limits and later records, with getsendresult, what each recipient got. Several
// workers may run one each: every notification is claimed with FOR UPDATE SKIP LOCKED and
// one corp's sends are serialized, so nothing is sent twice or over a limit.
type Sender struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Metrics  *metrics.Metrics // nil: no metrics
	// Every is how often to look for due notifications (0: DefaultEvery).
	Every time.Duration
	// ResultDelay is how long after a send its result is first asked for (0: five Everys),
	// giving DingTalk time to deliver.
	ResultDelay time.Duration
	// Clock tells the time (nil: time.Now); tests share a fake one with the simulator.
	Clock func() time.Time
}

// EveryFromEnv reads how often the worker's sender looks for due notifications from
// DINGSYNC_NOTIFY_INTERVAL (a duration such as 2s; unset: DefaultEvery).
func EveryFromEnv() (time.Duration, error) {
	v := os.Getenv("DINGSYNC_NOTIFY_INTERVAL")
	if v == "" {
		return DefaultEvery, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Millisecond || d > time.Hour {
		return 0, fmt.Errorf("DINGSYNC_NOTIFY_INTERVAL: want a duration from 10ms to 1h, such as 2s, got %q", v)
	}
	return d, nil
}

// Run sends and checks until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	s.initMetrics()
	t := time.NewTicker(s.every())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Drain(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("notifications", "error", err)
		}
	}
}

// Drain sends every notification due now, then checks every result due now, and returns
// how many it handled.
func (s *Sender) Drain(ctx context.Context) (int, error) {
	n := 0
	for {
		found, err := s.SendNext(ctx)
		if err != nil || !found {
			if err != nil {
				return n, err
			}
			break
		}
		n++
	}
	for {
		found, err := s.CheckNext(ctx)
		if err != nil || !found {
			return n, err
		}
		n++
	}
}

// SendNext sends the oldest due pending notification, if any.
func (s *Sender) SendNext(ctx context.Context) (bool, error) {
	now := s.now()
	var done store.NotificationUpdate
	var kind string
	found, err := s.Store.SendNextNotification(ctx, now, dayStart(now), func(c store.NotificationClaim) store.NotificationUpdate {
		kind, done = c.Kind, s.send(ctx, c, now)
		return done
	})
	if err == nil && found {
		s.count(kind, done)
	}
	return found, err
}

// CheckNext records the result of the oldest sent notification whose check is due, if any.
func (s *Sender) CheckNext(ctx context.Context) (bool, error) {
	now := s.now()
	var done store.NotificationUpdate
	var kind string
	found, err := s.Store.CheckNextNotification(ctx, now, func(n store.Notification) store.NotificationUpdate {
		kind, done = n.Kind, s.check(ctx, n, now)
		return done
	})
	if err == nil && found {
		s.count(kind, done)
	}
	return found, err
}

// count exports a notification's final outcome: sent (once its result is known), failed or
// dropped.
func (s *Sender) count(kind string, u store.NotificationUpdate) {
	final := u.Final || u.Status == store.NotificationFailed || u.Status == store.NotificationDropped
	if s.Metrics == nil || !final {
		return
	}
	s.Metrics.Notifications.WithLabelValues(kind, u.Status).Inc()
}

// initMetrics exports every kind and result at 0, so rates and alerts see the first one.
func (s *Sender) initMetrics() {
	if s.Metrics == nil {
		return
	}
	for _, kind := range store.NotificationKinds {
		for _, result := range []string{store.NotificationSent, store.NotificationFailed, store.NotificationDropped} {
			s.Metrics.Notifications.WithLabelValues(kind, result)
		}
	}
}

// loadApp decrypts the corp's active AppSecret into the App the DingTalk client needs.
func (s *Sender) loadApp(ctx context.Context, corpID string) (dingtalk.App, error) {
	b, err := s.Store.GetBinding(ctx, corpID)
	if err != nil {
		return dingtalk.App{}, err
	}
	cred, err := s.Store.ActiveCredential(ctx, corpID, store.CredentialAppSecret)
	if err != nil {
		return dingtalk.App{}, err
	}
	secret, err := s.Secrets.Open(cred.Ciphertext, store.SealContext(corpID, cred.Kind, cred.Version))
	if err != nil {
		return dingtalk.App{}, err
	}
	return dingtalk.App{CorpID: corpID, AppKey: b.AppKey, AppSecret: secret, CredentialVersion: cred.Version}, nil
}

func (s *Sender) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Sender) every() time.Duration {
	if s.Every > 0 {
		return s.Every
	}
	return DefaultEvery
}

func (s *Sender) resultDelay() time.Duration {
	if s.ResultDelay > 0 {
		return s.ResultDelay
	}
	return 5 * s.every()
}

// backoff is the wait before attempt n+1 (n ≥ 1): base doubled per attempt, capped.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// dayStart is the start of now's day in China, where DingTalk counts its daily limits.
func dayStart(now time.Time) time.Time {
	y, m, d := now.In(chinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, chinaTime)
}
