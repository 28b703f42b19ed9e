package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// TestRecordedHistoriesReplay replays real histories of every workflow type (recorded by
// internal/e2e's TestRecordHistories) against the code as it is now. A change that would make
// runs already in flight non-deterministic fails here: version it with workflow.GetVersion,
// then record new histories beside the old ones.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("found %d recorded histories, want one of each workflow type: run DINGSYNC_RECORD_HISTORIES=1 go test -run TestRecordHistories ./internal/e2e/", len(files))
	}
	replayer := worker.NewWorkflowReplayer()
	for _, wf := range []any{Binding, Authorize, FullSync, IncrementalSync, IncrementalBatch, Audit, Scheduled, Rotate, Import, Writeback} {
		replayer.RegisterWorkflow(wf)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}
