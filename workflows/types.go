// Package workflows holds dingsync's Temporal workflows. Workflow IDs come from business
// keys (one workflow of a kind per corp), every workflow upserts the CorpId and SyncKind
// search attributes, and payloads carry ids and counts, never employee lists or secrets.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/activities"
)

// TaskQueue is the default task queue dingsync's workers poll (DINGSYNC_TASK_QUEUE overrides it).
const TaskQueue = "dingsync"

// Search attributes every dingsync workflow sets; register them on the Temporal server
// (the Makefile does for the dev server) as Keyword attributes.
var (
	CorpIDAttribute   = temporal.NewSearchAttributeKeyKeyword("CorpId")
	SyncKindAttribute = temporal.NewSearchAttributeKeyKeyword("SyncKind")
	// SearchAttributeBindingStatus holds binding/<corp>'s status (pending, active, paused, …).
	SearchAttributeBindingStatus = temporal.NewSearchAttributeKeyKeyword("BindingStatus")
)

// SearchAttributes names every search attribute dingsync uses, with its type, as the
// Temporal CLI's --search-attribute flag takes them.
var SearchAttributes = []string{"CorpId=Keyword", "SyncKind=Keyword", "BindingStatus=Keyword"}

// Sync kinds, as in sync_runs.kind and the SyncKind search attribute.
const (
	KindFull = "full"
	// KindRepair is a full sync that an audit started to undo drift: it judges stored records
	// by their values rather than their recorded hash (see store.Apply).
	KindRepair = "repair"
	KindAudit  = "audit"
)

// FullSyncWorkflowID is the id of corpID's full sync: one at a time per corp.
func FullSyncWorkflowID(corpID string) string { return "fullsync/" + corpID }

// FullSyncInput starts a full sync of one corp.
type FullSyncInput struct {
	CorpID string
	// Trigger says who or what started the run: "manual", "binding", "schedule", "audit".
	Trigger string
	// Kind is KindFull (the default) or KindRepair.
	Kind string
	// ApprovalTimeout bounds the wait for an operator's decision on held deletions
	// (default 72 h); a run that times out fails with nothing deleted.
	ApprovalTimeout time.Duration
}

// FullSyncResult summarises a full sync.
type FullSyncResult struct {
	RunID              int64
	Status             string
	Departments        int
	Employees          int
	Created            int
	Updated            int
	Deactivated        int
	DepartmentsChanged int
	RecordErrors       int
	PendingDeletions   int
	APICalls           int64
	Throttled          int64
	DecidedBy          string
}

// UpdateDecideDeletions is the update that approves or rejects deletions held by the guard.
const UpdateDecideDeletions = "decide-deletions"

// DeletionDecision is an operator's answer to held deletions.
type DeletionDecision struct {
	Approve bool
	By      string
	Reason  string
}

// QueryProgress returns a FullSyncProgress.
const QueryProgress = "progress"

// FullSyncProgress is where a full sync is.
type FullSyncProgress struct {
	RunID            int64
	Phase            string
	PendingDeletions int
}

// Phases of a full sync, as its progress query reports them.
const (
	PhaseStarting         = "starting"
	PhaseReading          = "reading DingTalk"
	PhaseApplying         = "applying"
	PhaseAwaitingApproval = "awaiting approval"
	PhaseDone             = "done"
)

// Error types workflows raise themselves.
const (
	ErrTypeInvalidInput      = "InvalidInput"
	ErrTypeDeletionsTimedOut = "DeletionApprovalTimedOut"
	ErrTypeTooManyFailures   = "TooManyRecordFailures"
)

// nonRetryable are the activity error types no retry can fix.
var nonRetryable = []string{activities.ErrTypeUnknownCorp, activities.ErrTypeBindingInactive,
	activities.ErrTypeNoCredential, activities.ErrTypeCredentialUnreadable, activities.ErrTypeDingTalkAuth,
	activities.ErrTypeDingTalkPermission, activities.ErrTypeDingTalkQuota, activities.ErrTypeDingTalkInvalid,
	activities.ErrTypeRotationInProgress}
