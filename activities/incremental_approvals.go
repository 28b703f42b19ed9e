package activities

import (
	"context"
	"log/slog"

	"github.com/dingsync/dingsync/internal/store"
)

// ApprovalRefsInput names a batch of events.
type ApprovalRefsInput struct {
	CorpID   string
	EventIDs []string
}

// ApprovalRefsResult is what the batch's approval events ask to re-read.
type ApprovalRefsResult struct {
	// Instances are the approval instances to re-read, each once.
	Instances []ApprovalRef
	// Ignored counts instances named by events of a corp that does not import approvals (its
	// import schedule is off, or the app lacks the approvals permission): not re-read, as
	// each read costs one of the month's API calls.
	Ignored int
}

// ApprovalRefs lists the approval instances a batch's bpms_instance_change events name, for the
// incremental sync to hand to Imports.RefreshOpenApprovals before it applies the batch. Only
// the store is read.
func (a *Incremental) ApprovalRefs(ctx context.Context, in ApprovalRefsInput) (ApprovalRefsResult, error) {
	events, err := a.Store.EventsByID(ctx, in.CorpID, in.EventIDs)
	if err != nil {
		return ApprovalRefsResult{}, err
	}
	refs := approvalRefs(events)
	if len(refs) == 0 {
		return ApprovalRefsResult{}, nil
	}
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return ApprovalRefsResult{}, temporalError(err)
	}
	if !ImportsApprovals(b) {
		slog.Info("approval events of a corp that does not import approvals: not re-read", "corp", in.CorpID, "instances", len(refs))
		return ApprovalRefsResult{Ignored: len(refs)}, nil
	}
	return ApprovalRefsResult{Instances: refs}, nil
}

// approvalRefs collects the instances events name, each once (its last process code), in the
// order they first appear.
func approvalRefs(events []store.InboxEvent) []ApprovalRef {
	at := map[string]int{}
	var refs []ApprovalRef
	for _, e := range events {
		for _, r := range e.Instances {
			if r.InstanceID == "" {
				continue
			}
			if i, seen := at[r.InstanceID]; seen {
				refs[i].ProcessCode = r.ProcessCode
				continue
			}
			at[r.InstanceID] = len(refs)
			refs = append(refs, ApprovalRef{InstanceID: r.InstanceID, ProcessCode: r.ProcessCode})
		}
	}
	return refs
}
