// Package sharedlimit holds DingTalk's per-(corp, API) rate limit across every worker process,
// coordinated through Postgres. Each process that is calling a (corp, API) keeps a lease row
// alive (renewed every second, expiring after three); its share of the budget is the budget
// divided by the live leases of that (corp, API). A process joining others waits one renewal
// before its first call, so the others have shrunk to their new share by then; a process alone
// starts at once with the whole budget. A killed process's share returns to the others when its
// lease expires. No database round trip is made per call.
package sharedlimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/time/rate"

	"github.com/dingsync/dingsync/internal/dingtalk"
)

// Lease timing.
const (
	renewEvery = time.Second
	leaseTTL   = 3 * time.Second
)

// Limiter is a dingtalk.Limiter whose per-(corp, API) budget is shared by every process using
// the same database. Close it to give its leases back.
type Limiter struct {
	db     *sqlx.DB
	budget float64       // calls per second per (corp, API), for all processes together
	ip     *rate.Limiter // this process's egress-IP budget (nil: none)
	holder string

	mu     sync.Mutex
	keys   map[key]*share
	stop   chan struct{}
	closed sync.Once
	done   chan struct{}
}

type key struct{ corpID, api string }

// share is this process's part of one (corp, API) budget.
type share struct {
	lim *rate.Limiter
	// turn lets one caller at a time reserve a slot, so no reservation is made far ahead at
	// a rate the share may shrink from (rate.Limiter keeps reservations made before SetLimit).
	turn     chan struct{}
	ready    chan struct{} // closed once the first calls may go
	lastUsed time.Time
}

// wait takes the share's next slot.
func (sh *share) wait(ctx context.Context) error {
	select {
	case <-sh.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case sh.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sh.turn }()
	return sh.lim.Wait(ctx)
}

// New starts a shared limiter allowing budget calls per second per (corp, API) across every
// process on db, and ipCallsPer20s calls per 20 s from this process (0: no IP budget).
func New(db *sqlx.DB, budget float64, ipCallsPer20s int) *Limiter {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	l := &Limiter{db: db, budget: budget, ip: dingtalk.IPBudget(ipCallsPer20s),
		holder: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		keys:   map[key]*share{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renewLoop()
	return l
}

// Wait blocks until a call of api for corpID may be sent (token calls are exempt from the
// per-API budget, not from the IP budget).
func (l *Limiter) Wait(ctx context.Context, corpID, api string) error {
	if api != dingtalk.APIToken {
		sh, err := l.share(ctx, key{corpID, api})
		if err != nil {
			return err
		}
		if err := sh.wait(ctx); err != nil {
			return err
		}
	}
	if l.ip == nil {
		return nil
	}
	return l.ip.Wait(ctx)
}

// share returns this process's share of k, taking a lease on first use.
func (l *Limiter) share(ctx context.Context, k key) (*share, error) {
	l.mu.Lock()
	sh, ok := l.keys[k]
	if ok {
		sh.lastUsed = time.Now()
		l.mu.Unlock()
		return sh, nil
	}
	sh = &share{lim: rate.NewLimiter(rate.Limit(l.budget), 1), turn: make(chan struct{}, 1), ready: make(chan struct{}),
		lastUsed: time.Now()}
	l.keys[k] = sh
	l.mu.Unlock()
	others, err := l.join(ctx, k)
	if err != nil {
		l.mu.Lock()
		delete(l.keys, k)
		l.mu.Unlock()
		close(sh.ready)
		return nil, fmt.Errorf("take a DingTalk rate lease for %s %s: %w", k.corpID, k.api, err)
	}
	sh.lim.SetLimit(rate.Limit(l.budget / float64(others+1)))
	if others == 0 {
		close(sh.ready)
	} else {
		// The others shrink to their new share at their next renewal.
		time.AfterFunc(renewEvery+100*time.Millisecond, func() { close(sh.ready) })
	}
	return sh, nil
}

// join writes this process's lease on k and returns how many other live leases it has.
func (l *Limiter) join(ctx context.Context, k key) (others int, err error) {
	err = l.db.GetContext(ctx, &others, `WITH up AS (
		  INSERT INTO rate_leases (corp_id, api, holder, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 second')
		  ON CONFLICT (corp_id, api, holder) DO UPDATE SET expires_at = EXCLUDED.expires_at)
		SELECT count(*) FROM rate_leases WHERE corp_id = $1 AND api = $2 AND holder <> $3 AND expires_at > now()`,
		k.corpID, k.api, l.holder, leaseTTL.Seconds())
	return others, err
}

// renewLoop renews the leases of keys in use, resizes every share to budget / live leases,
// and gives back the leases of keys no longer used.
func (l *Limiter) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if err := l.renew(); err != nil {
			slog.Warn("renew DingTalk rate leases (shares stay as they are)", "error", err)
		}
	}
}

func (l *Limiter) renew() error {
	ctx, cancel := context.WithTimeout(context.Background(), renewEvery)
	defer cancel()
	l.mu.Lock()
	var live, idle []key
	for k, sh := range l.keys {
		if time.Since(sh.lastUsed) > leaseTTL {
			idle = append(idle, k)
			delete(l.keys, k)
		} else {
			live = append(live, k)
		}
	}
	l.mu.Unlock()
	for _, k := range idle {
		if _, err := l.db.ExecContext(ctx, `DELETE FROM rate_leases WHERE corp_id = $1 AND api = $2 AND holder = $3`,
			k.corpID, k.api, l.holder); err != nil {
			return err
		}
	}
	for _, k := range live {
		others, err := l.join(ctx, k)
		if err != nil {
			return err
		}
		l.mu.Lock()
		if sh := l.keys[k]; sh != nil {
			sh.lim.SetLimit(rate.Limit(l.budget / float64(others+1)))
		}
		l.mu.Unlock()
	}
	return nil
}

// Close stops renewing and deletes this process's leases, so the others get its share back
// at their next renewal.
func (l *Limiter) Close() error {
	l.closed.Do(func() { close(l.stop) })
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := l.db.ExecContext(ctx, `DELETE FROM rate_leases WHERE holder = $1`, l.holder)
	return err
}
