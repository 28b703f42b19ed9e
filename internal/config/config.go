// Package config reads the settings dingsync's commands share from the environment, with
// defaults that work on a developer machine (dev server, local Postgres, simulator).
package config

import (
	"os"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// Config is what the worker and the starter need to find Temporal and the HR store.
type Config struct {
	DatabaseURL       string // DATABASE_URL
	TemporalAddress   string // TEMPORAL_ADDRESS
	TemporalNamespace string // TEMPORAL_NAMESPACE
	MetricsAddr       string // DINGSYNC_METRICS_ADDR: where the worker serves /metrics
	TaskQueue         string // DINGSYNC_TASK_QUEUE: the task queue workers poll and workflows start on
	HTTPAddr          string // DINGSYNC_HTTP_ADDR: where the worker serves its public endpoints
	PublicURL         string // DINGSYNC_PUBLIC_URL: how DingTalk and browsers reach HTTPAddr
	ScheduleTimeZone  string // DINGSYNC_SCHEDULE_TIMEZONE: the zone schedules' cron specs are read in
}

// FromEnv reads Config from the environment.
func FromEnv() Config {
	c := Config{
		DatabaseURL:       env("DATABASE_URL", store.DefaultURL),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		MetricsAddr:       env("DINGSYNC_METRICS_ADDR", "127.0.0.1:9464"),
		TaskQueue:         env("DINGSYNC_TASK_QUEUE", workflows.TaskQueue),
		HTTPAddr:          env("DINGSYNC_HTTP_ADDR", "127.0.0.1:8088"),
		ScheduleTimeZone:  env("DINGSYNC_SCHEDULE_TIMEZONE", "Asia/Shanghai"),
	}
	c.PublicURL = strings.TrimRight(env("DINGSYNC_PUBLIC_URL", "http://"+c.HTTPAddr), "/")
	return c
}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// Schedules is the manager of binding schedules on c, for workflows started on the
// configured task queue.
func (c Config) Schedules(tc client.Client) *schedules.Manager {
	return &schedules.Manager{Client: tc, TaskQueue: c.TaskQueue, TimeZone: c.ScheduleTimeZone}
}
