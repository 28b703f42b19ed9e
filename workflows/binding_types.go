package workflows

import (
	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// BindingWorkflowID is the id of corpID's binding entity.
func BindingWorkflowID(corpID string) string { return "binding/" + corpID }

// KindBinding is the SyncKind search attribute of binding workflows.
const KindBinding = "binding"

// BindingInput starts a corp's binding, or continues it after continue-as-new.
type BindingInput struct {
	CorpID string
	Actor  string
	// State is carried over by continue-as-new; nil on the first run.
	State *BindingState
}

// BindingState is what the binding knows, as the status query returns it.
type BindingState struct {
	Status          string
	Reason          string
	Onboarded       bool
	Permissions     store.PermissionList
	RequiredMissing []string
	OptionalMissing []string
	Snapshot        store.Snapshot
	Callback        activities.CallbackResult
	InitialSync     *FullSyncResult
	Steps           []BindingStep
}

// BindingStep is one step of onboarding as it happened.
type BindingStep struct {
	Name    string
	Outcome string // "ok", "degraded", "failed", "skipped"
	Detail  string
}

// BindingResult is the binding's end (it ends only when unbound).
type BindingResult struct {
	Status string
	Note   string
}

// Binding updates and query.
const (
	UpdatePause     = "pause"
	UpdateResume    = "resume"
	UpdateUnbind    = "unbind"
	QueryStatus     = "status"
	ErrTypeUnbound  = "BindingUnbound"
	ErrTypeNotReady = "BindingNotReady"
)

// BindingAction is an operator's request to a binding.
type BindingAction struct {
	By     string
	Reason string
}
