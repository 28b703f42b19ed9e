package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// CallbackPathPrefix is where DingTalk pushes a corp's events: this prefix + the corp id.
const CallbackPathPrefix = "/dingtalk/callback/"

// maxCallbackBody bounds a pushed body (DingTalk's are well under 4 KiB).
const maxCallbackBody = 64 << 10

// Callback outcomes, the label values of dingsync_callbacks_total.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeCheckURL     = "check_url"
	OutcomeBadSignature = "bad_signature"
	OutcomeBadPadding   = "bad_padding"
	OutcomeWrongOwner   = "wrong_owner"
	OutcomeMalformed    = "malformed"
	OutcomeStale        = "stale"
	OutcomeUnknownCorp  = "unknown_corp"
	OutcomeTooLarge     = "too_large"
	OutcomeUnsignaled   = "accepted_unsignaled"
	OutcomeStoreFailed  = "store_failed"
)

// CallbackReceiver is DingTalk's HTTP push endpoint: it verifies and decrypts each event,
// refuses replays, stores it in the inbox (the inbox is the commitment: a duplicate event id
// is acknowledged and dropped), wakes the corp's incremental sync within a bounded time, and
// answers the encrypted "success" DingTalk requires within its 1.5 s budget.
type CallbackReceiver struct {
	Store   *store.Store
	Secrets *secretbox.Box
	Waker   interface {
		Wake(ctx context.Context, corpID string) error
	}
	Metrics *metrics.Metrics
	// ReplayWindow is how far a push's timestamp may be from now (default 5 minutes).
	ReplayWindow time.Duration
	// WakeBudget bounds the wait for Temporal; past it the sweeper wakes the workflow
	// (default 500 ms).
	WakeBudget time.Duration

	mu           sync.Mutex
	crypterCache map[string][]*callback.Crypter
	wakeOnce     sync.Once
	wakes        *WakeDebouncer
}

// WakeInterval is the most often a corp's incremental sync is signalled by arriving events.
const WakeInterval = 100 * time.Millisecond

// callbackError is a refused push: its HTTP status, reason and metric outcome.
type callbackError struct {
	status  int
	outcome string
	reason  string
}

func (e *callbackError) Error() string { return e.reason }

func refuse(status int, outcome, format string, args ...any) *callbackError {
	return &callbackError{status: status, outcome: outcome, reason: fmt.Sprintf(format, args...)}
}

// ServeHTTP handles one push.
func (h *CallbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply, outcome, err := h.receive(r)
	h.count(outcome)
	var ce *callbackError
	switch {
	case errors.As(err, &ce):
		http.Error(w, ce.reason, ce.status)
	case err != nil:
		slog.Error("dingtalk callback", "error", err)
		http.Error(w, "the event could not be stored; DingTalk will retry it", http.StatusServiceUnavailable)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	}
}

func (h *CallbackReceiver) count(outcome string) {
	if h.Metrics != nil {
		h.Metrics.Callbacks.WithLabelValues(outcome).Inc()
	}
}

func (h *CallbackReceiver) receive(r *http.Request) (callback.Reply, string, error) {
	if r.Method != http.MethodPost {
		return callback.Reply{}, OutcomeMalformed, refuse(http.StatusMethodNotAllowed, OutcomeMalformed, "DingTalk pushes events with POST")
	}
	corpID := strings.TrimPrefix(r.URL.Path, CallbackPathPrefix)
	q := r.URL.Query()
	signature := q.Get("msg_signature")
	if signature == "" {
		signature = q.Get("signature")
	}
	timestamp, nonce := q.Get("timestamp"), q.Get("nonce")
	if corpID == "" || signature == "" || timestamp == "" || nonce == "" {
		return callback.Reply{}, OutcomeMalformed, refuse(http.StatusBadRequest, OutcomeMalformed,
			"a push needs the corp in the path and msg_signature, timestamp and nonce in the query")
	}
	encrypted, err := readEncrypt(r)
	if err != nil {
		return callback.Reply{}, err.outcome, err
	}
	if err := h.checkFresh(timestamp); err != nil {
		return callback.Reply{}, err.outcome, err
	}
	crypter, plain, cerr := h.decrypt(r.Context(), corpID, signature, timestamp, nonce, encrypted)
	if cerr != nil {
		return callback.Reply{}, cerr.outcome, cerr
	}
	ev, err2 := callback.ParseEvent(plain)
	if err2 != nil {
		return callback.Reply{}, OutcomeMalformed, refuse(http.StatusBadRequest, OutcomeMalformed, "event: %v", err2)
	}
	outcome, err3 := h.accept(r.Context(), corpID, ev)
	if err3 != nil {
		return callback.Reply{}, OutcomeStoreFailed, err3
	}
	reply, err4 := crypter.SuccessReply(strconv.FormatInt(time.Now().UnixMilli(), 10), randomNonce())
	return reply, outcome, err4
}

func readEncrypt(r *http.Request) (string, *callbackError) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxCallbackBody))
	if err != nil {
		return "", refuse(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "the body is over %d bytes", maxCallbackBody)
	}
	var body struct {
		Encrypt string `json:"encrypt"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Encrypt == "" {
		return "", refuse(http.StatusBadRequest, OutcomeMalformed, `the body must be JSON {"encrypt": "..."}`)
	}
	return body.Encrypt, nil
}

// checkFresh refuses pushes whose timestamp (ms) is outside the replay window.
func (h *CallbackReceiver) checkFresh(timestamp string) *callbackError {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return refuse(http.StatusBadRequest, OutcomeMalformed, "timestamp %q is not milliseconds", timestamp)
	}
	window := h.ReplayWindow
	if window <= 0 {
		window = 5 * time.Minute
	}
	if d := time.Since(time.UnixMilli(ms)); d > window || d < -window {
		return refuse(http.StatusBadRequest, OutcomeStale, "timestamp is %s from now, outside the %s replay window", d.Round(time.Second), window)
	}
	return nil
}

// decrypt verifies and decrypts with the corp's callback keys — during a rotation the old and
// the new both, whichever signed the push — reloading them once when no signature verifies (the
// keys may have just changed). The reply is encrypted with the keys that verified.
func (h *CallbackReceiver) decrypt(ctx context.Context, corpID, signature, timestamp, nonce, encrypted string) (*callback.Crypter, []byte, *callbackError) {
	for attempt := 0; attempt < 2; attempt++ {
		crypters, err := h.crypters(ctx, corpID, attempt > 0)
		if err != nil || len(crypters) == 0 {
			return nil, nil, refuse(http.StatusNotFound, OutcomeUnknownCorp, "corp %q has no event callback registered with dingsync", corpID)
		}
		for _, c := range crypters {
			plain, err := c.Decrypt(signature, timestamp, nonce, encrypted)
			switch {
			case err == nil:
				return c, plain, nil
			case errors.Is(err, callback.ErrBadSignature):
				continue
			case errors.Is(err, callback.ErrWrongOwner):
				return nil, nil, refuse(http.StatusUnauthorized, OutcomeWrongOwner, "the event is not for this corp's registration")
			case errors.Is(err, callback.ErrBadPadding):
				return nil, nil, refuse(http.StatusBadRequest, OutcomeBadPadding, "the ciphertext's padding is invalid")
			default:
				return nil, nil, refuse(http.StatusBadRequest, OutcomeMalformed, "the ciphertext is malformed")
			}
		}
	}
	return nil, nil, refuse(http.StatusUnauthorized, OutcomeBadSignature, "the signature does not verify")
}

// crypters returns the corp's crypters, newest keys first: one per callback token and AES key
// version the receiver accepts (active, and pending or previous during a rotation).
func (h *CallbackReceiver) crypters(ctx context.Context, corpID string, reload bool) ([]*callback.Crypter, error) {
	h.mu.Lock()
	cs, ok := h.crypterCache[corpID]
	h.mu.Unlock()
	if ok && !reload {
		return cs, nil
	}
	tokens, err := h.openAccepted(ctx, corpID, store.CredentialCallbackToken)
	if err != nil {
		return nil, err
	}
	keys, err := h.openAccepted(ctx, corpID, store.CredentialCallbackAESKey)
	if err != nil {
		return nil, err
	}
	cs = nil
	// Token and AES key versions are drawn together, so the i-th newest of each make a pair.
	for i := range min(len(tokens), len(keys)) {
		c, err := callback.NewCrypter(tokens[i], keys[i], corpID)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	h.mu.Lock()
	if h.crypterCache == nil {
		h.crypterCache = map[string][]*callback.Crypter{}
	}
	h.crypterCache[corpID] = cs
	h.mu.Unlock()
	return cs, nil
}

// openAccepted decrypts the versions of a callback credential the receiver accepts, newest first.
func (h *CallbackReceiver) openAccepted(ctx context.Context, corpID, kind string) ([]string, error) {
	sealed, err := h.Store.AcceptedCredentials(ctx, corpID, kind)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(sealed))
	for _, c := range sealed {
		v, err := h.Secrets.Open(c.Ciphertext, store.SealContext(corpID, c.Kind, c.Version))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// accept stores the event and wakes the corp's incremental sync.
func (h *CallbackReceiver) accept(ctx context.Context, corpID string, ev callback.Event) (string, error) {
	if ev.Type == "check_url" {
		return OutcomeCheckURL, nil
	}
	inserted, err := h.Store.InsertEvent(ctx, activities.InboxEvent(corpID, ev, "http"))
	if err != nil {
		return "", err
	}
	if !inserted {
		return OutcomeDuplicate, nil
	}
	budget := h.WakeBudget
	if budget <= 0 {
		budget = 500 * time.Millisecond
	}
	h.wakeOnce.Do(func() { h.wakes = NewWakeDebouncer(h.Waker.Wake, WakeInterval, budget) })
	wctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if err := h.wakes.Wake(wctx, corpID); err != nil {
		slog.Warn("event stored but its sync not woken; the sweeper will", "corp", corpID, "error", err)
		return OutcomeUnsignaled, nil
	}
	return OutcomeAccepted, nil
}

func randomNonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
