// Command worker runs dingsync's Temporal worker: it migrates the HR store, registers every
// workflow and activity on the "dingsync" task queue and serves Prometheus metrics on /metrics.
//
// Environment: DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DINGSYNC_SECRET_KEY,
// DINGSYNC_METRICS_ADDR, DINGSYNC_HTTP_ADDR, DINGSYNC_PUBLIC_URL, DINGSYNC_TASK_QUEUE, DINGSYNC_SCHEDULE_TIMEZONE,
// DINGSYNC_CRAWL_CONCURRENCY, DINGSYNC_MAX_CONCURRENT_ACTIVITIES, DINGTALK_OAPI_BASE_URL,
// DINGTALK_API_BASE_URL, DINGTALK_QPS, DINGTALK_IP_CALLS_PER_20S, DINGSYNC_NOTIFY_INTERVAL.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/config"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/httpapi"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/notify"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/sharedlimit"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/stream"
	"github.com/dingsync/dingsync/workflows"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		slog.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg := config.FromEnv()
	if _, err := time.LoadLocation(cfg.ScheduleTimeZone); err != nil {
		return fmt.Errorf("DINGSYNC_SCHEDULE_TIMEZONE=%q is not a time zone (%v): use an IANA name such as Asia/Shanghai", cfg.ScheduleTimeZone, err)
	}
	box, err := secretbox.FromEnv()
	if err != nil {
		return err
	}
	dtCfg, err := dingtalk.ConfigFromEnv()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	m := metrics.New()
	dtCfg.Observer = m
	// DingTalk's per-(corp, API) limit holds across every worker sharing this database.
	limiter := sharedlimit.New(st.DB(), dtCfg.QPS*dtCfg.SafetyFactor, dtCfg.IPCallsPer20s)
	defer limiter.Close()
	dtCfg.Limiter = limiter
	handler, closer := m.TemporalHandler()
	defer closer.Close()
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		MetricsHandler: handler, Logger: tlog.NewStructuredLogger(slog.Default())})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (%w): start a dev server with `make dev-server` or set TEMPORAL_ADDRESS", cfg.TemporalAddress, err)
	}
	defer c.Close()

	maxActivities, err := envInt("DINGSYNC_MAX_CONCURRENT_ACTIVITIES", 0, 1, 10_000)
	if err != nil {
		return err
	}
	w := worker.New(c, cfg.TaskQueue, worker.Options{MaxConcurrentActivityExecutionSize: maxActivities})
	w.RegisterWorkflow(workflows.FullSync)
	w.RegisterWorkflow(workflows.Binding)
	w.RegisterWorkflow(workflows.Authorize)
	w.RegisterWorkflow(workflows.IncrementalSync)
	w.RegisterWorkflow(workflows.IncrementalBatch)
	w.RegisterWorkflow(workflows.Audit)
	w.RegisterWorkflow(workflows.Scheduled)
	w.RegisterWorkflow(workflows.Rotate)
	w.RegisterWorkflow(workflows.Import)
	w.RegisterWorkflow(workflows.Writeback)
	concurrency, err := envInt("DINGSYNC_CRAWL_CONCURRENCY", 0, 1, 256)
	if err != nil {
		return err
	}
	dt := dingtalk.New(dtCfg)
	w.RegisterActivity(&activities.Sync{Store: st, DingTalk: dt, Secrets: box, Metrics: m, CrawlConcurrency: concurrency})
	w.RegisterActivity(&activities.Binding{Store: st, DingTalk: dt, Secrets: box})
	w.RegisterActivity(&activities.Incremental{Store: st, DingTalk: dt, Secrets: box, Metrics: m})
	w.RegisterActivity(&activities.Audit{Store: st, Metrics: m})
	w.RegisterActivity(&activities.Rotation{Store: st, DingTalk: dt, Secrets: box, Metrics: m})
	w.RegisterActivity(&activities.Schedules{Store: st, Manager: cfg.Schedules(c)})
	w.RegisterActivity(&activities.Imports{Store: st, DingTalk: dt, Secrets: box})
	w.RegisterActivity(&activities.Writeback{Store: st, DingTalk: dt, Secrets: box, Metrics: m})

	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", m.Handler())
	metricsSrv, err := serve(cfg.MetricsAddr, "DINGSYNC_METRICS_ADDR", metricsMux)
	if err != nil {
		return err
	}
	defer metricsSrv.Shutdown(context.Background())
	public := http.NewServeMux()
	public.Handle(httpapi.OAuthCallbackPath, &httpapi.OAuthCallback{Store: st, Secrets: box, Temporal: c})
	waker := &httpapi.IncrementalWaker{Client: c, TaskQueue: cfg.TaskQueue}
	public.Handle(httpapi.CallbackPathPrefix, &httpapi.CallbackReceiver{Store: st, Secrets: box, Waker: waker, Metrics: m})
	writeback := &httpapi.WritebackWaker{Client: c, TaskQueue: cfg.TaskQueue}
	go (&httpapi.Sweeper{Store: st, Waker: waker, Writeback: writeback, Metrics: m}).Run(ctx)
	go (&httpapi.EHRWritesListener{DatabaseURL: cfg.DatabaseURL, Writeback: writeback}).Run(ctx)
	notifyEvery, err := notify.EveryFromEnv()
	if err != nil {
		return err
	}
	go (&notify.Sender{Store: st, DingTalk: dt, Secrets: box, Metrics: m, Every: notifyEvery}).Run(ctx)
	// Bindings with event intake stream: one worker holds each corp's DingTalk Stream connection.
	go (&stream.Intake{Store: st, DingTalk: dt, Secrets: box, Waker: waker, Metrics: m}).Run(ctx)
	publicSrv, err := serve(cfg.HTTPAddr, "DINGSYNC_HTTP_ADDR", public)
	if err != nil {
		return err
	}
	defer publicSrv.Shutdown(context.Background())
	slog.Info("worker started", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress,
		"metrics", "http://"+cfg.MetricsAddr+"/metrics", "oauth_redirect", cfg.PublicURL+httpapi.OAuthCallbackPath)
	return w.Run(stopOn(ctx))
}

// serve listens on addr (named by the environment variable envName in errors) and serves mux.
func serve(addr, envName string, mux *http.ServeMux) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%w): set %s to a free address", addr, err, envName)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("http server stopped", "addr", addr, "error", err)
		}
	}()
	return srv, nil
}

// envInt reads an integer setting within [lo, hi] (unset: def).
func envInt(name string, def, lo, hi int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: want a whole number from %d to %d, got %q", name, lo, hi, s)
	}
	return n, nil
}

// stopOn adapts ctx to the channel worker.Run stops on.
func stopOn(ctx context.Context) <-chan interface{} {
	ch := make(chan interface{})
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}
