package workflows

import "github.com/dingsync/dingsync/internal/store"

// Import kinds: what an import workflow reads (ImportInput.Kind, import_watermarks.kind).
const (
	ImportAttendance = store.ImportAttendance
	ImportApprovals  = store.ImportApprovals
)

// ImportKinds lists the import kinds, in the order a scheduled import runs them.
var ImportKinds = []string{ImportAttendance, ImportApprovals}

// ImportWorkflowID is the id of corpID's import of kind: one at a time per corp and kind.
func ImportWorkflowID(kind, corpID string) string { return "import/" + kind + "/" + corpID }

// ImportSyncKind is the SyncKind search attribute of an import of kind ("import-attendance").
func ImportSyncKind(kind string) string { return "import-" + kind }

// ImportInput starts an import of one kind for one corp.
type ImportInput struct {
	CorpID string
	// Kind is ImportAttendance or ImportApprovals.
	Kind string
	// Trigger says who or what started the import: "manual" (default), "schedule".
	Trigger string
	// From and To (yyyy-MM-dd, Beijing time, inclusive) make it a backfill of that range; both
	// empty: an incremental import from the watermark.
	From, To string
}

// ImportResult summarises an import: counts, never records.
type ImportResult struct {
	CorpID string
	Kind   string
	// Skipped says why nothing was imported (a scheduled import the app lacks the permission for).
	Skipped string `json:",omitempty"`
	// From and To are the range read (yyyy-MM-dd for attendance; RFC 3339 start times for
	// approvals); Windows how many slices DingTalk's limits cut it into.
	From, To string
	Windows  int
	Backfill bool
	// Fetched counts the records (attendance) or instance details (approvals) read; Inserted
	// and Updated what changed in the store (the rest was stored already as it is).
	Fetched  int
	Inserted int
	Updated  int
	// Skipped approvals: listed but stored already as finished, so not re-read. Missing:
	// instances DingTalk no longer knows. Leaves: leave requests among the instances read.
	SkippedFinished int
	Missing         int
	Leaves          int
	APICalls        int64
	Throttled       int64
	// Watermark is where the next incremental import starts from (yyyy-MM-dd or RFC 3339).
	Watermark string
	Note      string `json:",omitempty"`
}

// QueryImportProgress returns an ImportProgress.
const QueryImportProgress = "import-progress"

// ImportProgress is where an import is: windows done of all, and the counts so far.
type ImportProgress struct {
	Phase       string
	WindowsDone int
	Windows     int
	Fetched     int
	APICalls    int64
}
