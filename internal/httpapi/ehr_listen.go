package httpapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/lib/pq"
)

// EHRWritesChannel is the Postgres channel the eHR's edits and hires notify (payload: the corp
// id), from the SQL functions dingsync_employee_update and dingsync_employee_hire and from an
// apply that queues an owner-wins write.
const EHRWritesChannel = "dingsync_ehr_writes"

// EHRWritesListener wakes a corp's writeback as soon as Postgres says a write was queued, so an
// edit another eHR module makes through the SQL functions reaches DingTalk in moments. A lost
// connection only delays pushes: the Sweeper finds pending writes every few seconds.
type EHRWritesListener struct {
	DatabaseURL string
	Writeback   *WritebackWaker
}

// Run listens until ctx ends.
func (l *EHRWritesListener) Run(ctx context.Context) {
	listener := pq.NewListener(l.DatabaseURL, time.Second, 30*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			slog.Warn("listening for eHR writes: the Postgres connection dropped; pending writes are swept every few seconds meanwhile",
				"event", ev, "error", err)
		}
	})
	defer listener.Close()
	if err := listener.Listen(EHRWritesChannel); err != nil {
		slog.Warn("cannot listen for eHR writes; they are pushed by the sweep instead", "channel", EHRWritesChannel, "error", err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-listener.Notify:
			if n == nil { // reconnected: notifications may have been missed, the sweep covers them
				continue
			}
			if err := l.Writeback.Wake(ctx, n.Extra); err != nil && ctx.Err() == nil {
				slog.Warn("wake the writeback of an eHR write; the sweep retries", "corp", n.Extra, "error", err)
			}
		}
	}
}
