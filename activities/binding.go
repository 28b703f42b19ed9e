package activities

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Binding holds the activities of binding a corp: verification, snapshot, callback
// registration and the binding's state changes.
type Binding struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
}

// Error types of binding.
const (
	ErrTypeInvalidBindingConfig = "InvalidBindingConfig"
	ErrTypeRequiredPermission   = "RequiredPermissionMissing"
)

// CorpInput names a corp.
type CorpInput struct {
	CorpID string
}

// VerifyResult is what verification found: every permission, granted or missing.
type VerifyResult struct {
	Checks          store.PermissionList
	RequiredMissing []string
	OptionalMissing []string
}

// idPattern is the shape of CorpIds and AppKeys: 4-64 letters, digits, - or _.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// ValidCorpID reports whether s has the shape of a DingTalk CorpId.
func ValidCorpID(s string) bool { return idPattern.MatchString(s) }

// ValidAppKey reports whether s has the shape of a DingTalk AppKey (Client ID).
func ValidAppKey(s string) bool { return idPattern.MatchString(s) }

// validateBinding checks the stored configuration's shape before anything is sent.
func validateBinding(b store.Binding) error {
	var problems []string
	if !ValidCorpID(b.CorpID) {
		problems = append(problems, fmt.Sprintf("CorpId %q is not a CorpId (4-64 letters, digits, - or _): copy it from 管理后台 → 企业信息", b.CorpID))
	}
	if !ValidAppKey(b.AppKey) {
		problems = append(problems, fmt.Sprintf("AppKey %q is not an AppKey: copy the Client ID from the app's 凭证与基础信息 page", b.AppKey))
	}
	if b.AgentID.Valid && b.AgentID.Int64 <= 0 {
		problems = append(problems, "AgentId must be a positive number (the app's AgentId from 凭证与基础信息)")
	}
	if b.CallbackURL.Valid {
		if err := ValidateCallbackURL(b.CallbackURL.String); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return temporal.NewNonRetryableApplicationError("the binding's configuration is invalid: "+strings.Join(problems, "; ")+
			"; fix it with `starter bind` and run `starter resume`", ErrTypeInvalidBindingConfig, nil)
	}
	return nil
}

// ValidateCallbackURL checks that DingTalk can push events to u: an absolute http(s) URL
// with a host and no fragment (DingTalk adds its own query).
func ValidateCallbackURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" || parsed.Fragment != "" || parsed.RawQuery != "" {
		return fmt.Errorf("callback URL %q must be an absolute http(s) URL without query or fragment, e.g. https://ehr.example.com/dingtalk/callback/<corp>", u)
	}
	return nil
}

// Verify checks the configuration, proves the AppSecret by fetching a fresh token, and probes
// every permission dingsync's features use, recording each as granted or missing with the
// console step that fixes it.
func (a *Binding) Verify(ctx context.Context, in CorpInput) (VerifyResult, error) {
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return VerifyResult{}, temporalError(err)
	}
	if err := validateBinding(b); err != nil {
		return VerifyResult{}, err
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return VerifyResult{}, temporalError(err)
	}
	a.DingTalk.InvalidateTokens(app.AppKey)
	if _, err := a.DingTalk.Token(ctx, app); err != nil {
		return VerifyResult{}, temporalError(fmt.Errorf("verify the AppKey/AppSecret: %w", err))
	}
	checks, err := runProbes(ctx, &prober{dt: a.DingTalk, app: app, agent: b.AgentID.Int64})
	if err != nil {
		return VerifyResult{}, temporalError(err)
	}
	if err := a.Store.RecordVerification(ctx, in.CorpID, checks); err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Checks: checks}
	required, optional := checks.Missing()
	for _, c := range required {
		res.RequiredMissing = append(res.RequiredMissing, c.Permission)
	}
	for _, c := range optional {
		res.OptionalMissing = append(res.OptionalMissing, c.Permission)
	}
	return res, nil
}

// SnapshotResult names the snapshot taken.
type SnapshotResult struct {
	Snapshot store.Snapshot
}

// Snapshot copies the corp's HR rows before binding changes them, so ops can restore them
// with `starter snapshot restore`.
func (a *Binding) Snapshot(ctx context.Context, in CorpInput) (SnapshotResult, error) {
	snap, err := a.Store.TakeSnapshot(ctx, in.CorpID, "before binding")
	return SnapshotResult{Snapshot: snap}, err
}

// CallbackInput names the corp and who asked.
type CallbackInput struct {
	CorpID string
	Actor  string
}

// CallbackResult says whether events were registered, and where.
type CallbackResult struct {
	Registered bool
	Updated    bool // an earlier registration was replaced (71006)
	URL        string
	// Stream says events come by Stream mode (the binding's event intake): nothing is
	// registered, a worker holds the corp's Stream connection, and URL describes it.
	Stream bool
}

// StreamIntake is the CallbackResult URL of a binding whose events come by Stream mode.
const StreamIntake = "the worker's DingTalk Stream mode connection (event intake stream: no callback URL)"

// ContactEventTags are the address-book events dingsync subscribes to.
var ContactEventTags = []string{"user_add_org", "user_modify_org", "user_leave_org", "user_active_org",
	"org_dept_create", "org_dept_modify", "org_dept_remove"}

// ApprovalEventTag is the approval event dingsync subscribes to when the binding imports
// approvals: the incremental sync re-reads the instance it names.
const ApprovalEventTag = callback.EventApprovalChange

// EventTags are the events b's callback registration subscribes to: the contact events, and
// bpms_instance_change when b imports approvals (ImportsApprovals). They are registered when
// the corp is bound and when its callback keys rotate (`starter rotate --callback`), which is
// therefore how a change of the import schedule to or from off reaches DingTalk. DingTalk
// counts approval pushes against the standard edition's 3,000 pushes a month; contact events
// are exempt.
func EventTags(b store.Binding) []string {
	tags := slices.Clone(ContactEventTags)
	if ImportsApprovals(b) {
		tags = append(tags, ApprovalEventTag)
	}
	return tags
}

// RegisterCallback registers the corp's event callback with a freshly generated token and AES
// key (stored encrypted first), replacing an earlier registration. Without a callback URL it
// registers nothing: incremental sync is then off and status says so. A binding whose event
// intake is Stream mode registers nothing either, and its incremental sync is on.
func (a *Binding) RegisterCallback(ctx context.Context, in CallbackInput) (CallbackResult, error) {
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return CallbackResult{}, temporalError(err)
	}
	if b.EventIntake == store.EventIntakeStream {
		return CallbackResult{Registered: true, Stream: true, URL: StreamIntake}, nil
	}
	if !b.CallbackURL.Valid {
		return CallbackResult{}, nil
	}
	token, err := randomAlnum(32)
	if err != nil {
		return CallbackResult{}, err
	}
	aesKey, err := randomAlnum(43)
	if err != nil {
		return CallbackResult{}, err
	}
	for kind, secret := range map[string]string{store.CredentialCallbackToken: token, store.CredentialCallbackAESKey: aesKey} {
		if _, err := a.Store.PutCredential(ctx, in.CorpID, kind, in.Actor, func(sc string) ([]byte, error) {
			return a.Secrets.Seal(secret, sc)
		}); err != nil {
			return CallbackResult{}, err
		}
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return CallbackResult{}, temporalError(err)
	}
	updated, err := a.DingTalk.RegisterCallback(ctx, app, dingtalk.CallbackRegistration{Tags: EventTags(b),
		Token: token, AESKey: aesKey, URL: b.CallbackURL.String})
	if err != nil {
		return CallbackResult{}, temporalError(fmt.Errorf("register the event callback: %w", err))
	}
	return CallbackResult{Registered: true, Updated: updated, URL: b.CallbackURL.String}, nil
}

// randomAlnum returns n random letters and digits (DingTalk's alphabet for callback tokens
// and AES keys).
func randomAlnum(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}

// StatusInput moves a binding to a status and logs who did it.
type StatusInput struct {
	CorpID string
	Status string
	Reason string
	Actor  string // "" for the binding workflow's own transitions (not logged)
	Action string
}

// SetStatus records the binding's new status (and the ops action behind it, if any).
func (a *Binding) SetStatus(ctx context.Context, in StatusInput) error {
	if err := a.Store.SetBindingStatus(ctx, in.CorpID, in.Status, in.Reason); err != nil {
		return temporalError(err)
	}
	if in.Actor == "" {
		return nil
	}
	return a.Store.LogOp(ctx, in.CorpID, in.Actor, in.Action, map[string]any{"status": in.Status, "reason": in.Reason})
}

// UnbindInput names the corp and who unbinds it.
type UnbindInput struct {
	CorpID string
	Actor  string
	Reason string
}

// Unbind deletes the corp's event callback in DingTalk (best effort: a revoked app cannot)
// and marks the binding unbound. The corp's HR data is kept.
func (a *Binding) Unbind(ctx context.Context, in UnbindInput) (string, error) {
	note := "HR data kept (employees, departments, audit trail)"
	if app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID); err == nil {
		if err := a.DingTalk.DeleteCallback(ctx, app); err != nil {
			note += fmt.Sprintf("; the event callback could not be deleted in DingTalk (%v): delete it in the developer console", err)
		}
	}
	if err := a.Store.SetBindingStatus(ctx, in.CorpID, store.BindingUnbound, in.Reason); err != nil {
		return "", temporalError(err)
	}
	return note, a.Store.LogOp(ctx, in.CorpID, in.Actor, "unbind", map[string]any{"reason": in.Reason, "note": note})
}
