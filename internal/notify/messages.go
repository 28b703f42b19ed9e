// Package notify tells a corp's HR admins, by DingTalk work notification, when something
// needs them: a failed run, a quarantined binding, invalid credentials, deletions held for
// approval, audit drift. Activities write the notifications to an outbox (store.NewNotification,
// built here); the worker's Sender delivers them within DingTalk's limits and records what
// DingTalk says each recipient got.
package notify

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// Corp names the corp a message is about.
type Corp struct {
	ID   string
	Name string // DingTalk's name of the org ("" before the first sync)
}

func (c Corp) String() string {
	if c.Name == "" {
		return c.ID
	}
	return fmt.Sprintf("%s（%s）", c.Name, c.ID)
}

// FailedRun is a run that failed, as FinishRun records it.
type FailedRun struct {
	Corp      Corp
	RunID     int64
	Kind      string // full, incremental, audit, repair
	ErrorType string // the application error type (DingTalkAuth, TooManyRecordFailures, …)
	Reason    string // the run's error, which ends with its fix
	// BindingStatus is what the run made the binding (credentials_invalid, quarantined, …).
	BindingStatus string
	// Day is the run's (China) date, yyyy-mm-dd: incremental batches retry every minute, so
	// their failures are told once a day per cause rather than once per batch.
	Day string
}

// Error types that need no notification: the corp is gone or paused on purpose.
var quietErrorTypes = []string{"UnknownCorp", "BindingInactive"}

// ForFailedRun is the notification of a failed run: credentials_invalid or
// binding_quarantined when the run moved the binding there, else run_failed. ok is false
// when there is nothing to tell.
func ForFailedRun(r FailedRun) (n store.NewNotification, ok bool) {
	for _, t := range quietErrorTypes {
		if r.ErrorType == t {
			return n, false
		}
	}
	n = store.NewNotification{CorpID: r.Corp.ID, Kind: store.NotifyRunFailed}
	switch r.BindingStatus {
	case store.BindingCredentialsInvalid:
		n.Kind, n.Message = store.NotifyCredentialsInvalid, credentialsMessage(r)
	case store.BindingQuarantined:
		n.Kind, n.Message = store.NotifyBindingQuarantined, quarantineMessage(r)
	default:
		n.Message = runFailedMessage(r)
	}
	n.DedupeKey = fmt.Sprintf("%s/run/%d", n.Kind, r.RunID)
	if r.Kind == "incremental" {
		n.DedupeKey = fmt.Sprintf("%s/incremental/%s/%s", n.Kind, r.ErrorType, r.Day)
	}
	n.Message = fit(n.Message)
	return n, true
}

func runFailedMessage(r FailedRun) string {
	what := fmt.Sprintf("%s failed (%s)", runName(r.Kind), orOther(r.ErrorType))
	if r.Kind == "full" || r.Kind == "repair" {
		what += "; nothing it read was applied"
	}
	fallback := fmt.Sprintf("read the run's error with `starter runs --corp-id %s`, fix its cause, then run it again", r.Corp.ID)
	if own := ownError(r.Reason); own != "" {
		fallback = own
	}
	return compose(r.Corp, "同步失败 / a sync failed", what, fixOf(r.Reason, fallback), "starter runs --corp-id "+r.Corp.ID)
}

func credentialsMessage(r FailedRun) string {
	what := fmt.Sprintf("%s failed because the app's credentials were refused (%s); syncs fail until they are fixed", runName(r.Kind), r.ErrorType)
	fix := fixOf(r.Reason, "check the AppKey/AppSecret in the DingTalk developer console (凭证与基础信息) and the server IP whitelist")
	if r.ErrorType == "CredentialUnreadable" {
		fix = "the stored AppSecret cannot be decrypted: give the workers the DINGSYNC_SECRET_KEY it was stored with, or store it again with `starter bind`"
	}
	fix += fmt.Sprintf(". If the AppSecret was reset in the console, hand dingsync the new one: `starter rotate --corp-id %s --app-secret-file FILE`. Then `starter sync full --corp-id %s`",
		r.Corp.ID, r.Corp.ID)
	return compose(r.Corp, "凭证无效 / credentials invalid", what, fix, "starter status --corp-id "+r.Corp.ID)
}

var unreadable = regexp.MustCompile(`\d+ of \d+ departments could not be read`)

func quarantineMessage(r FailedRun) string {
	what := "a full sync could not read too many departments"
	if m := unreadable.FindString(r.Reason); m != "" {
		what = "a full sync failed: " + m
	}
	what += "; nothing was applied and the binding is quarantined"
	fix := fmt.Sprintf("see each department's error with `starter runs --corp-id %s` (the failed run), grant the app the missing permissions or widen its contact scope (通讯录权限范围) in the DingTalk developer console, then run `starter sync full --corp-id %s`",
		r.Corp.ID, r.Corp.ID)
	return compose(r.Corp, "绑定已隔离 / binding quarantined", what, fix, "starter status --corp-id "+r.Corp.ID)
}

// ForHeldDeletions is the notification of a run (of kind full or repair) the deletion guard
// holds with pending deactivations.
func ForHeldDeletions(corp Corp, runID int64, kind string, pending int) store.NewNotification {
	what := fmt.Sprintf("%s would deactivate %d employees, more than the binding's deletion guard allows; nothing is applied until someone decides, and the sync fails if nobody does in time (72 h by default)", runName(kind), pending)
	fix := fmt.Sprintf("review the run with `starter runs --corp-id %s`, then apply the deactivations with `starter deletions approve --corp-id %s --by NAME` or keep everyone with `starter deletions reject --corp-id %s --by NAME`",
		corp.ID, corp.ID, corp.ID)
	return store.NewNotification{CorpID: corp.ID, Kind: store.NotifyDeletionsAwaiting,
		DedupeKey: fmt.Sprintf("%s/run/%d", store.NotifyDeletionsAwaiting, runID),
		Message:   fit(compose(corp, "待审批的离职 / deactivations await approval", what, fix, "starter status --corp-id "+corp.ID))}
}

// ForAuditDrift is the notification of an audit that found drift.
func ForAuditDrift(corp Corp, runID int64, drift store.DriftCounts) store.NewNotification {
	var parts []string
	for _, k := range store.DriftKinds {
		if drift[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, drift[k]))
		}
	}
	what := fmt.Sprintf("the consistency audit found %d differences between DingTalk and the HR store (%s)", drift.Total(), strings.Join(parts, ", "))
	fix := fmt.Sprintf("see each finding with `starter audit show --corp-id %s`; repair them with `starter audit run --corp-id %s --repair` (a repair sync, through the deletion guard)",
		corp.ID, corp.ID)
	return store.NewNotification{CorpID: corp.ID, Kind: store.NotifyAuditDrift,
		DedupeKey: fmt.Sprintf("%s/run/%d", store.NotifyAuditDrift, runID),
		Message:   fit(compose(corp, "审计发现差异 / audit found drift", what, fix, "starter audit show --corp-id "+corp.ID))}
}

// compose lays a message out: who and what in the title, then what happened, what to do and
// where to look.
func compose(corp Corp, title, what, fix, details string) string {
	return fmt.Sprintf("【dingsync】%s：%s\nWhat happened: %s.\nWhat to do: %s.\nDetails: %s",
		corp, title, what, strings.TrimRight(fix, ". "), details)
}

// typeSuffix is what Temporal appends to an application error's message.
var typeSuffix = regexp.MustCompile(`\s*\(type: \w+, retryable: (true|false)\)`)

// fixOf returns the fix a run's error ends with ("…; fix: check the AppKey/AppSecret …"),
// or fallback when it carries none.
func fixOf(reason, fallback string) string {
	i := strings.LastIndex(reason, "fix: ")
	if i < 0 {
		return fallback
	}
	fix := reason[i+len("fix: "):]
	if loc := typeSuffix.FindStringIndex(fix); loc != nil {
		fix = fix[:loc[0]]
	}
	if fix = strings.TrimSpace(fix); fix == "" {
		return fallback
	}
	return fix
}

// runName names a run of kind for a sentence ("a full sync", "a consistency audit").
func runName(kind string) string {
	switch kind {
	case "full", "repair":
		return "a " + kind + " sync"
	case "incremental":
		return "an incremental sync (a batch of DingTalk events)"
	case "audit":
		return "a consistency audit"
	}
	return "a " + kind + " run"
}

// ownError is a run's error when dingsync itself raised it in the workflow (an approval that
// timed out, too many unreadable departments): its text says what to do. Errors of
// activities and child workflows carry Temporal's ids, which differ from run to run.
func ownError(reason string) string {
	if reason == "" || strings.HasPrefix(reason, "activity error") || strings.HasPrefix(reason, "child workflow") {
		return ""
	}
	return strings.TrimSpace(typeSuffix.ReplaceAllString(reason, ""))
}

func orOther(s string) string {
	if s == "" {
		return "other"
	}
	return s
}

// fit cuts a message so that DingTalk accepts it: both the text (store.MaxNotificationBytes)
// and the msg object carrying it (dingtalk.MaxMessageBytes), on a character boundary, ending
// a cut one with "…".
func fit(msg string) string {
	fits := func(m string) bool {
		return len(m) <= store.MaxNotificationBytes && len(dingtalk.EncodeTextMessage(m)) <= dingtalk.MaxMessageBytes
	}
	if fits(msg) {
		return msg
	}
	for msg != "" && !fits(msg+"…") {
		_, size := utf8.DecodeLastRuneInString(msg)
		msg = msg[:len(msg)-size]
	}
	return msg + "…"
}
