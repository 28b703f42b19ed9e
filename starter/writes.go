package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/internal/httpapi"
	"github.com/dingsync/dingsync/internal/store"
)

// writeFollow is how a command that queued an eHR write follows it.
type writeFollow struct {
	corpID string
	wait   time.Duration // 0: report the write as queued
	asJSON bool
}

// pushWrite wakes the corp's writeback for write id, follows it for --wait, and reports it: a
// write that failed, or is still pending after --wait, is an error.
func pushWrite(cmd *cobra.Command, env *environment, st *store.Store, c client.Client, f writeFollow, id int64) error {
	ctx := cmd.Context()
	w, err := st.GetEHRWrite(ctx, f.corpID, id)
	if err != nil {
		return fmt.Errorf("read back write %d: %w", id, err)
	}
	if w.Status == store.WritePending {
		waker := &httpapi.WritebackWaker{Client: c, TaskQueue: env.config().TaskQueue}
		if err := waker.Wake(ctx, f.corpID); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: write %d is queued, but waking writeback/%s failed (%v): the worker's sweeper "+
				"pushes it within seconds once it reaches Temporal\n", id, f.corpID, err)
		}
	}
	if f.wait > 0 {
		if w, err = awaitWrite(ctx, st, w, f.wait); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		if err := json.NewEncoder(out).Encode(w); err != nil {
			return err
		}
	}
	switch {
	case w.Status == store.WriteFailed:
		return fmt.Errorf("write %d (%s %s) failed: %s; once fixed, run the command again with a new --key (a key stays "+
			"with its first write); see `starter employee writes --corp-id %s --status failed`", w.ID, w.Op, w.Subject(), reasonText(w.Reason), f.corpID)
	case w.Status == store.WritePending && f.wait > 0:
		return fmt.Errorf("write %d (%s %s) is still pending after %s: DingTalk may be refusing it for now (the writeback retries) "+
			"or the worker is down; check `starter employee writes --corp-id %s --status pending` and the worker's log",
			w.ID, w.Op, w.Subject(), f.wait, f.corpID)
	case f.asJSON:
		return nil
	case w.Status == store.WritePending:
		fmt.Fprintf(out, "write %d (%s %s) queued: pushing to DingTalk; follow it with `starter employee writes --corp-id %s`\n",
			w.ID, w.Op, w.Subject(), f.corpID)
	default:
		fmt.Fprintf(out, "write %d (%s %s) pushed to DingTalk", w.ID, w.Op, w.Subject())
		if w.Reason != nil {
			fmt.Fprintf(out, ": %s", *w.Reason)
		}
		fmt.Fprintln(out)
	}
	return nil
}

// awaitWrite re-reads w every 250 ms until it is no longer pending or d passes.
func awaitWrite(ctx context.Context, st *store.Store, w store.EHRWrite, d time.Duration) (store.EHRWrite, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for w.Status == store.WritePending {
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-deadline.C:
			return w, nil
		case <-tick.C:
		}
		next, err := st.GetEHRWrite(ctx, w.CorpID, w.ID)
		if err != nil {
			return w, fmt.Errorf("follow write %d: %w", w.ID, err)
		}
		w = next
	}
	return w, nil
}
