package activities_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/activities"
)

func TestImportPlans(t *testing.T) {
	now := time.Date(2025, 3, 20, 10, 0, 0, 0, activities.ChinaTime)
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, activities.ChinaTime) }
	tests := []struct {
		name      string
		kind      string
		watermark time.Time
		from, to  string
		wantFrom  time.Time
		wantTo    time.Time
		wantErr   string
		wantNote  bool
	}{
		{name: "first attendance import: the lookback to yesterday", kind: "attendance", wantFrom: day(20).AddDate(0, 0, -31), wantTo: day(19)},
		{name: "attendance after the watermark", kind: "attendance", watermark: day(12), wantFrom: day(13), wantTo: day(19)},
		{name: "attendance up to date", kind: "attendance", watermark: day(19), wantFrom: day(20), wantTo: day(19)},
		{name: "an old watermark is cut to the lookback", kind: "attendance", watermark: day(1).AddDate(0, -2, 0), wantFrom: day(20).AddDate(0, 0, -31), wantTo: day(19), wantNote: true},
		{name: "attendance backfill", kind: "attendance", from: "2025-03-01", to: "2025-03-20", wantFrom: day(1), wantTo: day(20)},
		{name: "attendance backfill into the future", kind: "attendance", from: "2025-03-01", to: "2025-03-21", wantErr: "future"},
		{name: "attendance backfill of over a year", kind: "attendance", from: "2024-01-01", to: "2025-03-01", wantErr: "split"},
		{name: "approvals after the watermark, an hour back", kind: "approvals", watermark: day(18), wantFrom: day(18).Add(-time.Hour), wantTo: now},
		{name: "approvals backfill ends at now", kind: "approvals", from: "2025-03-01", to: "2025-03-31", wantFrom: day(1), wantTo: now},
		{name: "approvals backfill past DingTalk's 365 days", kind: "approvals", from: "2024-03-01", to: "2024-04-01", wantErr: "365 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := activities.ImportPlan{Watermark: tt.watermark, Backfill: tt.from != ""}
			in := activities.BeginImportInput{CorpID: "corp1", Kind: tt.kind, From: tt.from, To: tt.to}
			run := func() error {
				if tt.kind == "attendance" {
					return activities.PlanAttendance(&plan, in, now)
				}
				return activities.PlanApprovals(&plan, in, now)
			}
			err := run()
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !plan.From.Equal(tt.wantFrom) || !plan.To.Equal(tt.wantTo) || (plan.Note != "") != tt.wantNote:
				t.Fatalf("plan %s..%s (note %q), want %s..%s", plan.From, plan.To, plan.Note, tt.wantFrom, tt.wantTo)
			}
		})
	}
}
