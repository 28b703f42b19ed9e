package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// CallbackKeys are the versions of a corp's callback token and AES key.
type CallbackKeys struct {
	TokenVersion  int
	AESKeyVersion int
}

// PrepareCallbackKeys draws a new callback token and AES key and stores them as pending.
// Until they are activated the receiver accepts pushes signed with either the old or the new.
func (a *Rotation) PrepareCallbackKeys(ctx context.Context, in RotationStep) (CallbackKeys, error) {
	defer heartbeatEvery(ctx, time.Second)()
	token, err := randomAlnum(32)
	if err != nil {
		return CallbackKeys{}, err
	}
	aesKey, err := randomAlnum(43)
	if err != nil {
		return CallbackKeys{}, err
	}
	seal := func(secret string) func(string) ([]byte, error) {
		return func(sc string) ([]byte, error) { return a.Secrets.Seal(secret, sc) }
	}
	v, err := a.Store.PutPendingCredentials(ctx, in.CorpID, in.Actor,
		store.PendingSecret{Kind: store.CredentialCallbackToken, Seal: seal(token)},
		store.PendingSecret{Kind: store.CredentialCallbackAESKey, Seal: seal(aesKey)})
	if err != nil {
		return CallbackKeys{}, temporalError(err)
	}
	return CallbackKeys{TokenVersion: v[0], AESKeyVersion: v[1]}, nil
}

// UpdateCallbackInput names the new keys to register.
type UpdateCallbackInput struct {
	CorpID string
	Keys   CallbackKeys
}

// UpdateCallback re-registers the corp's callback with the new keys (update_call_back);
// DingTalk verifies them with a check_url push signed with the new keys before it answers.
func (a *Rotation) UpdateCallback(ctx context.Context, in UpdateCallbackInput) error {
	defer heartbeatEvery(ctx, time.Second)()
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return temporalError(err)
	}
	if !b.CallbackURL.Valid {
		return temporalError(fmt.Errorf("corp %s has no event callback to rotate the keys of: bind it with --callback-url", in.CorpID))
	}
	open := func(kind string, version int) (string, error) {
		cred, _, err := a.Store.CredentialVersion(ctx, in.CorpID, kind, version)
		if err != nil {
			return "", err
		}
		return a.Secrets.Open(cred.Ciphertext, store.SealContext(in.CorpID, kind, version))
	}
	token, err := open(store.CredentialCallbackToken, in.Keys.TokenVersion)
	if err != nil {
		return temporalError(err)
	}
	aesKey, err := open(store.CredentialCallbackAESKey, in.Keys.AESKeyVersion)
	if err != nil {
		return temporalError(err)
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return temporalError(err)
	}
	_, err = a.DingTalk.RegisterCallback(ctx, app, dingtalk.CallbackRegistration{Tags: EventTags(b),
		Token: token, AESKey: aesKey, URL: b.CallbackURL.String})
	if err != nil {
		return temporalError(fmt.Errorf("register the new callback keys with DingTalk: %w", err))
	}
	return nil
}
