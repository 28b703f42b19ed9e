package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Writeback pushes the changes made in the eHR to the fields it owns (and its new hires) to
// DingTalk: the other half of two-way sync.
type Writeback struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Metrics  *metrics.Metrics
}

// pendingWritesPage bounds the writes one step of the writeback workflow takes.
const pendingWritesPage = 100

// PendingWrites returns the ids of the corp's writes waiting to be pushed, oldest first.
func (a *Writeback) PendingWrites(ctx context.Context, in CorpInput) ([]int64, error) {
	return a.Store.PendingEHRWrites(ctx, in.CorpID, pendingWritesPage)
}

// PushWriteInput names one queued write.
type PushWriteInput struct {
	CorpID  string
	WriteID int64
}

// PushWriteResult is what became of a write.
type PushWriteResult struct {
	Status    string // store.WritePushed or store.WriteFailed
	Reason    string
	Conflicts int
}

// PushWrite pushes one write to DingTalk and records the outcome; a write already finished is
// reported as it is, so a retried attempt pushes nothing twice. An update first reads the
// member: fields DingTalk already holds are not sent, and a field DingTalk changed since the
// last agreement is a conflict the eHR (its owner) wins. A create asks for the userid derived
// from the write's key, so a retry that finds the member made by an earlier attempt succeeds.
// Department creates and updates are pushed as they are (DingTalk stays the department truth).
// What DingTalk refuses for good (a mobile taken, a member gone, a permission missing) fails
// the write with DingTalk's reason and the fix; the rest retries.
func (a *Writeback) PushWrite(ctx context.Context, in PushWriteInput) (PushWriteResult, error) {
	w, err := a.Store.GetEHRWrite(ctx, in.CorpID, in.WriteID)
	if err != nil {
		return PushWriteResult{}, fmt.Errorf("read write %d of corp %s: %w", in.WriteID, in.CorpID, err)
	}
	if w.Status != store.WritePending {
		return PushWriteResult{Status: w.Status, Reason: deref(w.Reason)}, nil
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return PushWriteResult{}, temporalError(err)
	}
	var out store.WriteOutcome
	switch w.Op {
	case store.WriteCreate:
		out, err = a.pushCreate(ctx, app, w)
	case store.WriteDeptCreate:
		out, err = a.pushDepartmentCreate(ctx, app, w)
	case store.WriteDeptUpdate:
		out, err = a.pushDepartmentUpdate(ctx, app, w)
	default:
		out, err = a.pushUpdate(ctx, app, w)
	}
	if reason, refused := refusedForGood(err); refused {
		out, err = store.WriteOutcome{Status: store.WriteFailed, Reason: reason}, nil
	}
	if err != nil {
		return PushWriteResult{}, rotationAware(ctx, a.Store, in.CorpID, err)
	}
	if err := a.Store.FinishEHRWrite(ctx, w, out); err != nil {
		return PushWriteResult{}, err
	}
	if a.Metrics != nil {
		a.Metrics.EHRWrites.WithLabelValues(w.Op, out.Status).Inc()
	}
	return PushWriteResult{Status: out.Status, Reason: out.Reason, Conflicts: len(out.Conflicts)}, nil
}

func (a *Writeback) pushUpdate(ctx context.Context, app dingtalk.App, w store.EHRWrite) (store.WriteOutcome, error) {
	fields, base, err := w.Values()
	if err != nil {
		return store.WriteOutcome{}, fmt.Errorf("decode write %d: %w", w.ID, err)
	}
	member, err := a.DingTalk.GetUser(ctx, app, w.UserID)
	if err != nil {
		return store.WriteOutcome{}, err
	}
	theirs, err := profileValues(store.ProfileFromUser(member.User))
	if err != nil {
		return store.WriteOutcome{}, err
	}
	out := store.WriteOutcome{Status: store.WritePushed, Synced: fields}
	send := map[string]any{}
	for f, ours := range fields {
		if sameValue(theirs[f], ours) {
			continue
		}
		send[f] = ours
		if !sameValue(theirs[f], base[f]) {
			out.Conflicts = append(out.Conflicts, store.FieldConflict{Field: f, Base: jsonOf(base[f]), EHRValue: jsonOf(ours),
				DingTalkValue: jsonOf(theirs[f]), BothChanged: !sameValue(ours, base[f]), Winner: store.OwnerEHR,
				FoundBy: fmt.Sprintf("write %d", w.ID)})
		}
	}
	if len(send) == 0 {
		out.Reason = "DingTalk already held these values"
		return out, nil
	}
	u, err := userWrite(w.UserID, send)
	if err != nil {
		return store.WriteOutcome{}, err
	}
	return out, a.DingTalk.UpdateUser(ctx, app, u)
}

func (a *Writeback) pushCreate(ctx context.Context, app dingtalk.App, w store.EHRWrite) (store.WriteOutcome, error) {
	fields, _, err := w.Values()
	if err != nil {
		return store.WriteOutcome{}, fmt.Errorf("decode write %d: %w", w.ID, err)
	}
	mobile, _ := fields["mobile"].(string)
	var depts []int64
	if raw, ok := fields["dept_ids"].([]any); ok {
		for _, d := range raw {
			if n, ok := d.(float64); ok {
				depts = append(depts, int64(n))
			}
		}
	}
	profile := map[string]any{}
	for f, v := range fields {
		if f != "mobile" && f != "dept_ids" {
			profile[f] = v
		}
	}
	u, err := userWrite(w.UserID, profile)
	if err != nil {
		return store.WriteOutcome{}, err
	}
	u.Mobile, u.DeptIDs = &mobile, depts
	out := store.WriteOutcome{Status: store.WritePushed, Synced: profile}
	_, err = a.DingTalk.CreateUser(ctx, app, u)
	if dingtalk.IsUserIDTaken(err) || dingtalk.IsMobileTaken(err) {
		// An earlier attempt may have created the member before its answer was lost.
		if member, gerr := a.DingTalk.GetUser(ctx, app, w.UserID); gerr == nil && member.Mobile == mobile {
			out.Reason = "DingTalk already had the member (created by an earlier attempt)"
			return out, nil
		}
	}
	return out, err
}

// refusedForGood says err is DingTalk refusing the write in a way no retry changes, and
// gives the reason with the fix.
func refusedForGood(err error) (string, bool) {
	var de *dingtalk.Error
	if !errors.As(err, &de) {
		return "", false
	}
	switch de.Kind {
	case dingtalk.KindInvalidRequest, dingtalk.KindNotFound, dingtalk.KindPermission, dingtalk.KindOutOfScope:
		return fmt.Sprintf("%v; fix: %s", err, de.Hint()), true
	}
	return "", false
}

// userWrite turns eHR field values (as JSON decodes them) into a user/update or user/create
// body for userID.
func userWrite(userID string, values map[string]any) (dingtalk.UserWrite, error) {
	u := dingtalk.UserWrite{UserID: userID}
	strs := map[string]**string{"name": &u.Name, "title": &u.Title, "job_number": &u.JobNumber, "email": &u.Email,
		"org_email": &u.OrgEmail, "telephone": &u.Telephone, "work_place": &u.WorkPlace, "remark": &u.Remark}
	for f, v := range values {
		if f == "hired_date" {
			n, ok := v.(float64)
			if !ok {
				return u, fmt.Errorf("hired_date of %s is %v, not unix milliseconds", userID, v)
			}
			ms := int64(n)
			u.HiredDate = &ms
			continue
		}
		dst, known := strs[f]
		s, isString := v.(string)
		if !known || !isString {
			return u, fmt.Errorf("field %s of %s (%v) cannot be written to DingTalk", f, userID, v)
		}
		*dst = &s
	}
	return u, nil
}

// profileValues is a profile as the generic values JSON decodes it to, field by field.
func profileValues(p store.EmployeeProfile) (map[string]any, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var values map[string]any
	return values, json.Unmarshal(raw, &values)
}

// sameValue compares two JSON-decoded values; a field absent (nil) equals its zero value, as
// DingTalk leaves an unset field empty.
func sameValue(a, b any) bool {
	return reflect.DeepEqual(orZero(a, b), orZero(b, a))
}

func orZero(v, other any) any {
	if v != nil {
		return v
	}
	switch other.(type) {
	case string:
		return ""
	case float64:
		return float64(0)
	}
	return nil
}

func jsonOf(v any) json.RawMessage {
	raw, _ := json.Marshal(v)
	return raw
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
