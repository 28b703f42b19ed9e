package activities

import (
	"context"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// ReadUsers is the incremental re-read of the given users, for the external tests.
func ReadUsers(ctx context.Context, a *Incremental, app dingtalk.App, userIDs []string) (store.StageBatch, error) {
	return a.read(ctx, app, batchPlan{readUsers: userIDs})
}
