// Package httpapi holds the worker's public HTTP endpoints: where DingTalk's OAuth redirect
// lands after an admin consents (and, later, where DingTalk pushes events).
package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// OAuthCallbackPath is where the login redirect lands: DINGSYNC_PUBLIC_URL + this path is the
// redirect_uri `starter authorize` puts in the login URL.
const OAuthCallbackPath = "/oauth/callback"

// Signaler tells a workflow something happened (the Temporal client's SignalWorkflow).
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
}

// OAuthCallback receives DingTalk's redirect (?authCode=…&state=…): it refuses unknown,
// expired and reused states, seals the code into the store and signals the waiting
// authorization workflow, which does the rest.
type OAuthCallback struct {
	Store    *store.Store
	Secrets  *secretbox.Box
	Temporal Signaler
}

// HashState is how states are stored and carried: only their SHA-256.
func HashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// ServeHTTP handles one redirect.
func (h *OAuthCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		page(w, http.StatusMethodNotAllowed, "This address only receives DingTalk's login redirect (GET).")
		return
	}
	code, state := r.URL.Query().Get("authCode"), r.URL.Query().Get("state")
	if code == "" {
		code = r.URL.Query().Get("code")
	}
	if code == "" || state == "" {
		page(w, http.StatusBadRequest, "The redirect carries no authorization code or state: open the link `starter authorize` printed.")
		return
	}
	hash := HashState(state)
	sealed, err := h.Secrets.Seal(code, activities.AuthCodeSealContext(hash))
	if err != nil {
		page(w, http.StatusInternalServerError, "dingsync could not store the authorization: try again.")
		return
	}
	redirect, err := h.Store.ConsumeOAuthState(r.Context(), hash, sealed, func(rd store.OAuthRedirect) error {
		return h.Temporal.SignalWorkflow(r.Context(), rd.WorkflowID, "", workflows.SignalAuthCodeReceived, hash)
	})
	switch {
	case errors.Is(err, store.ErrStateUnknown), errors.Is(err, store.ErrStateUsed), errors.Is(err, store.ErrStateExpired):
		page(w, http.StatusBadRequest, err.Error())
	case err != nil:
		slog.Error("oauth callback", "error", err)
		page(w, http.StatusServiceUnavailable, "dingsync could not hand the authorization to its workflow (is the authorization still waiting? see `starter status`): open the link again.")
	default:
		page(w, http.StatusOK, fmt.Sprintf("Authorization received for corp %s. dingsync is checking it; you can close this window.", redirect.CorpID))
	}
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>dingsync</title><p>%s</p>\n", html.EscapeString(msg))
}
