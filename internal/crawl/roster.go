package crawl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// RosterSource is the part of the DingTalk client that reads smart-HR roster fields.
type RosterSource interface {
	QueryRoster(ctx context.Context, app dingtalk.App, q dingtalk.RosterQuery) (dingtalk.RosterValues, error)
}

// Roster reads the roster fields a corp's mapping uses for the users a run stages. A nil
// Roster, or one whose plan has no codes, reads nothing and makes no call. One Roster serves
// one run: after a refusal that concerns the whole app it makes no more calls.
type Roster struct {
	Source RosterSource
	Plan   store.RosterPlan

	refused atomic.Bool
}

// rosterErrorEntity is the sync_errors entity of a failed roster read; its record id is the
// codes read, so a run records one such error however many batches failed.
const rosterErrorEntity = "roster"

// Fill sets the roster values of b's users, one call per dingtalk.MaxRosterUsers distinct
// users. A refusal of the app (missing permission, users out of its scope, no AgentId on the
// binding) is recorded in b.Errors and marks the users unread, so the store keeps the values
// it holds; any other failure is returned, and b must not be staged.
func (r *Roster) Fill(ctx context.Context, app dingtalk.App, b *store.StageBatch) error {
	if r == nil || len(r.Plan.Codes) == 0 || len(b.Users) == 0 {
		return nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, u := range b.Users {
		if !seen[u.User.UserID] {
			seen[u.User.UserID] = true
			ids = append(ids, u.User.UserID)
		}
	}
	values, unread := dingtalk.RosterValues{}, map[string]bool{}
	for chunk := range slices.Chunk(ids, dingtalk.MaxRosterUsers) {
		got, err := r.read(ctx, app, chunk)
		if err != nil {
			rec, ok := r.recordable(chunk, err)
			if !ok {
				return fmt.Errorf("read roster fields %s of %d employees: %w", strings.Join(r.Plan.Codes, ", "), len(chunk), err)
			}
			if rec != nil {
				b.Errors = append(b.Errors, *rec)
			}
			for _, id := range chunk {
				unread[id] = true
			}
			continue
		}
		for id, v := range got {
			values[id] = v
		}
	}
	for i := range b.Users {
		id := b.Users[i].User.UserID
		b.Users[i].Roster, b.Users[i].RosterUnread = values[id], unread[id]
	}
	return nil
}

// errRefused stands for a read skipped after an earlier refusal of the app.
var errRefused = errors.New("skipped after an earlier refusal")

func (r *Roster) read(ctx context.Context, app dingtalk.App, ids []string) (dingtalk.RosterValues, error) {
	if r.refused.Load() {
		return nil, errRefused
	}
	if r.Plan.AgentID <= 0 {
		r.refused.Store(true)
		return nil, errNoAgentID
	}
	return r.Source.QueryRoster(ctx, app, dingtalk.RosterQuery{AgentID: r.Plan.AgentID, UserIDs: ids, FieldCodes: r.Plan.Codes})
}

var errNoAgentID = errors.New("the binding has no AgentId, which DingTalk's roster API requires")

// recordable turns a refusal of the app into the error to record (nil: already recorded);
// ok is false for any other failure.
func (r *Roster) recordable(ids []string, err error) (rec *store.RecordError, ok bool) {
	codes := strings.Join(r.Plan.Codes, ",")
	what := fmt.Sprintf("read roster fields %s of %d employees (%s, …); their stored roster values were kept", codes, len(ids), ids[0])
	var de *dingtalk.Error
	switch {
	case errors.Is(err, errRefused):
		return nil, true
	case errors.Is(err, errNoAgentID):
		return &store.RecordError{Entity: rosterErrorEntity, RecordID: codes, Kind: dingtalk.KindInvalidRequest.String(),
			Message: fmt.Sprintf("%s: %v; fix: rebind with `starter bind --agent-id <AgentId>` (the AgentId from the app's 凭证与基础信息 page)", what, err)}, true
	case errors.As(err, &de) && (de.Kind == dingtalk.KindPermission || de.Kind == dingtalk.KindOutOfScope):
		if de.Kind == dingtalk.KindPermission {
			r.refused.Store(true) // the app lacks the permission: every further call would fail too
		}
		return &store.RecordError{Entity: rosterErrorEntity, RecordID: codes, Kind: de.Kind.String(), Code: de.Code,
			Message: fmt.Sprintf("%s: %s; fix: %s", what, de.Error(), de.Hint())}, true
	}
	return nil, false
}
