package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// ErrTypeNotOrgAdmin is raised when the user who consented is not an admin of the corp.
const ErrTypeNotOrgAdmin = "NotOrgAdmin"

// AuthCodeSealContext binds a sealed authorization code to its state.
func AuthCodeSealContext(stateHash string) string { return "oauth-code/" + stateHash }

// AuthorizeInput names the corp and the state the redirect consumed.
type AuthorizeInput struct {
	CorpID    string
	StateHash string
}

// AuthorizeResult names who authorized.
type AuthorizeResult struct {
	UserID string
	Name   string
}

// CompleteAuthorization exchanges the authorization code the redirect brought for the user's
// token, identifies the user (users/me, then unionid → userid), requires an org admin and
// records who authorized. The code and the user's token never leave this activity.
func (a *Binding) CompleteAuthorization(ctx context.Context, in AuthorizeInput) (AuthorizeResult, error) {
	sealed, err := a.Store.SealedAuthCode(ctx, in.StateHash)
	if err != nil {
		return AuthorizeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidBindingConfig, nil)
	}
	code, err := a.Secrets.Open(sealed, AuthCodeSealContext(in.StateHash))
	if err != nil {
		return AuthorizeResult{}, temporalError(err)
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return AuthorizeResult{}, temporalError(err)
	}
	token, err := a.DingTalk.ExchangeAuthCode(ctx, app, code)
	if err != nil {
		return AuthorizeResult{}, temporalError(fmt.Errorf("exchange the authorization code: %w", err))
	}
	me, err := a.DingTalk.GetCurrentUser(ctx, in.CorpID, token.AccessToken)
	if err != nil {
		return AuthorizeResult{}, temporalError(fmt.Errorf("identify who authorized: %w", err))
	}
	userID, err := a.DingTalk.UserIDByUnionID(ctx, app, me.UnionID)
	if err != nil {
		return AuthorizeResult{}, temporalError(fmt.Errorf("find %s in corp %s: %w", me.Nick, in.CorpID, err))
	}
	user, err := a.DingTalk.GetUser(ctx, app, userID)
	if err != nil {
		return AuthorizeResult{}, temporalError(fmt.Errorf("read %s's roles: %w", me.Nick, err))
	}
	if !user.Admin {
		return AuthorizeResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s (%s) is not an admin of corp %s: the consent must come from an org admin (管理员); ask one to open a new link from `starter authorize`",
			user.Name, userID, in.CorpID), ErrTypeNotOrgAdmin, nil)
	}
	by := fmt.Sprintf("%s (%s)", user.Name, userID)
	if err := a.Store.RecordAuthorization(ctx, in.CorpID, by); err != nil {
		return AuthorizeResult{}, temporalError(err)
	}
	return AuthorizeResult{UserID: userID, Name: user.Name}, nil
}
