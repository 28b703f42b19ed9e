package notify

import (
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// authReason is a failed run's error as FinishRun receives it.
const authReason = "activity error (type: CrawlOrg, scheduledEventID: 11, startedEventID: 12, identity: 4711@host): " +
	"dingtalk /v1.0/oauth2/accessToken: auth (code invalidClientIdOrSecret, http 400, request_id ABC123): bad; " +
	"fix: check the AppKey/AppSecret in the DingTalk developer console (凭证与基础信息) and the server IP whitelist " +
	"(type: DingTalkAuth, retryable: false)"

func TestAFailedRunIsToldByWhatItDidToTheBinding(t *testing.T) {
	corp := Corp{ID: "dingcorp1", Name: "华东科技"}
	for _, c := range []struct {
		name     string
		run      FailedRun
		kind     string
		key      string
		contains []string
	}{
		{"credentials", FailedRun{Corp: corp, RunID: 7, Kind: "full", ErrorType: "DingTalkAuth", Reason: authReason, BindingStatus: store.BindingCredentialsInvalid},
			store.NotifyCredentialsInvalid, "credentials_invalid/run/7",
			[]string{"华东科技（dingcorp1）", "fix", "check the AppKey/AppSecret in the DingTalk developer console (凭证与基础信息) and the server IP whitelist.", "starter rotate --corp-id dingcorp1"}},
		{"quarantine", FailedRun{Corp: corp, RunID: 8, Kind: "full", ErrorType: "TooManyRecordFailures", BindingStatus: store.BindingQuarantined,
			Reason: "9 of 20 departments could not be read (over 40%): nothing was applied and the binding is quarantined; see `starter runs --run-id 8` (type: TooManyRecordFailures, retryable: false)"},
			store.NotifyBindingQuarantined, "binding_quarantined/run/8", []string{"9 of 20 departments could not be read", "通讯录权限范围", "starter sync full --corp-id dingcorp1"}},
		{"other failure", FailedRun{Corp: Corp{ID: "dingcorp1"}, RunID: 9, Kind: "audit", ErrorType: "DingTalkPermission", BindingStatus: store.BindingActive,
			Reason: "x; fix: grant the app the missing API permission in the DingTalk developer console (权限管理), then re-run (type: DingTalkPermission, retryable: false)"},
			store.NotifyRunFailed, "run_failed/run/9", []string{"【dingsync】dingcorp1：", "a consistency audit failed (DingTalkPermission)", "What to do: grant the app the missing API permission"}},
		{"approval timed out", FailedRun{Corp: corp, RunID: 11, Kind: "full", ErrorType: "DeletionApprovalTimedOut", BindingStatus: store.BindingActive,
			Reason: "nobody approved or rejected the 61 held deactivations within 72h0m0s: nothing was applied; run the sync again and decide with `starter deletions approve|reject --corp-id dingcorp1 --by NAME` (type: DeletionApprovalTimedOut, retryable: false)"},
			store.NotifyRunFailed, "run_failed/run/11", []string{"What to do: nobody approved or rejected the 61 held deactivations", "--by NAME`.\nDetails"}},
		{"incremental, once a day per cause", FailedRun{Corp: corp, RunID: 10, Kind: "incremental", ErrorType: "DingTalkUnavailable", Day: "2026-03-02"},
			store.NotifyRunFailed, "run_failed/incremental/DingTalkUnavailable/2026-03-02", []string{"starter runs --corp-id dingcorp1"}},
	} {
		n, ok := ForFailedRun(c.run)
		if !ok || n.Kind != c.kind || n.DedupeKey != c.key || n.CorpID != "dingcorp1" {
			t.Errorf("%s: %v %+v, want kind %s key %s", c.name, ok, n, c.kind, c.key)
		}
		for _, want := range c.contains {
			if !strings.Contains(n.Message, want) {
				t.Errorf("%s: message lacks %q:\n%s", c.name, want, n.Message)
			}
		}
		for _, volatile := range []string{"request_id", "ABC123", "identity", "retryable", "run-id"} {
			if strings.Contains(n.Message, volatile) {
				t.Errorf("%s: message carries %q, which differs between identical failures:\n%s", c.name, volatile, n.Message)
			}
		}
	}
	if _, ok := ForFailedRun(FailedRun{Corp: corp, RunID: 1, Kind: "full", ErrorType: "BindingInactive"}); ok {
		t.Error("a run refused because the corp is paused was told")
	}
}

func TestIdenticalFailuresMakeIdenticalMessages(t *testing.T) {
	run := func(id int64, reqID string) string {
		n, _ := ForFailedRun(FailedRun{Corp: Corp{ID: "c1"}, RunID: id, Kind: "full", ErrorType: "DingTalkAuth",
			Reason: strings.Replace(authReason, "ABC123", reqID, 1), BindingStatus: store.BindingCredentialsInvalid})
		return n.Message
	}
	if a, b := run(1, "R1"), run(2, "R2"); a != b {
		t.Fatalf("two runs failing the same way are told differently, so DingTalk's duplicate rule cannot hold:\n%s\n%s", a, b)
	}
}

func TestHeldDeletionsAndDrift(t *testing.T) {
	corp := Corp{ID: "c1"}
	n := ForHeldDeletions(corp, 5, "repair", 61)
	if n.Kind != store.NotifyDeletionsAwaiting || n.DedupeKey != "deletions_awaiting/run/5" ||
		!strings.Contains(n.Message, "a repair sync would deactivate 61 employees") || !strings.Contains(n.Message, "starter deletions approve --corp-id c1 --by NAME") {
		t.Fatalf("%+v", n)
	}
	n = ForAuditDrift(corp, 6, store.DriftCounts{store.DriftMissing: 2, store.DriftFieldMismatch: 1, store.DriftExtra: 0})
	if n.Kind != store.NotifyAuditDrift || n.DedupeKey != "audit_drift/run/6" ||
		!strings.Contains(n.Message, "found 3 differences") || !strings.Contains(n.Message, "(missing 2, field_mismatch 1)") ||
		!strings.Contains(n.Message, "starter audit run --corp-id c1 --repair") {
		t.Fatalf("%+v", n)
	}
}

func TestMessagesFitDingTalksLimit(t *testing.T) {
	long := strings.Repeat("部门无法读取 ", 400) // 7,200 bytes
	n, _ := ForFailedRun(FailedRun{Corp: Corp{ID: "c1", Name: long}, RunID: 1, Kind: "full", ErrorType: "X"})
	if len(n.Message) > store.MaxNotificationBytes || len(dingtalk.EncodeTextMessage(n.Message)) > dingtalk.MaxMessageBytes ||
		!strings.HasSuffix(n.Message, "…") || !strings.HasPrefix(n.Message, "【dingsync】部门") {
		t.Fatalf("a long message: %d bytes, msg %d bytes, ends %q", len(n.Message), len(dingtalk.EncodeTextMessage(n.Message)), n.Message[len(n.Message)-9:])
	}
	if short := fit("short"); short != "short" {
		t.Fatalf("fit changed a short message to %q", short)
	}
}
