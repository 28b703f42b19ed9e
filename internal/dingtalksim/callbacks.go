package dingtalksim

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/dingsync/dingsync/internal/callback"
)

// Callback registration (dingtalk-api.md §6a): one HTTP push callback per corp, verified
// with a check_url push when registered and used by the pusher.

// CallbackRegistration is a corp's HTTP push callback as register_call_back sets it:
// DingTalk pushes the corp's events of the types in Tags to URL, signed with Token and
// encrypted with AESKey.
type CallbackRegistration struct {
	Tags   []string `json:"call_back_tag"`
	Token  string   `json:"token"`
	AESKey string   `json:"aes_key"`
	URL    string   `json:"url"`
}

// callbackTags are the event types a callback may subscribe to: the contact events and
// bpms_instance_change.
var callbackTags = []string{
	EventUserAddOrg, EventUserModifyOrg, EventUserLeaveOrg, EventUserActiveOrg,
	EventDeptCreate, EventDeptModify, EventDeptRemove, "org_change", "org_remove",
	"label_user_change", "label_conf_add", "label_conf_modify", "label_conf_del",
	"org_admin_add", "org_admin_remove", EventApprovalChange,
}

// callbackStore holds the registrations by corp.
type callbackStore struct {
	mu sync.Mutex
	m  map[string]callbackEntry
}

// callbackEntry is a registration with the crypter of its pushes (owner key: the corp
// id, as for callbacks registered with register_call_back). It is immutable.
type callbackEntry struct {
	reg     CallbackRegistration
	crypter *callback.Crypter
}

// Callback returns corpID's registered callback, if it has one.
func (s *Server) Callback(corpID string) (CallbackRegistration, bool) {
	s.callbacks.mu.Lock()
	defer s.callbacks.mu.Unlock()
	e, ok := s.callbacks.m[corpID]
	reg := e.reg
	reg.Tags = slices.Clone(reg.Tags)
	return reg, ok
}

// check validates a registration; the error names the bad field.
func (r *CallbackRegistration) check() error {
	if n := utf8.RuneCountInString(r.Token); n < 6 || n >= 64 {
		return errors.New("token must have at least 6 and fewer than 64 characters")
	}
	if len(r.AESKey) != 43 || slices.ContainsFunc([]byte(r.AESKey), func(b byte) bool { return !isAlnum(b) }) {
		return errors.New("aes_key must be 43 characters of a-z, A-Z and 0-9")
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("url must be an http or https URL")
	}
	if len(r.Tags) == 0 {
		return errors.New("call_back_tag is empty")
	}
	for _, t := range r.Tags {
		if !slices.Contains(callbackTags, t) {
			return fmt.Errorf("call_back_tag: unknown event type %q", t)
		}
	}
	return nil
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// registerCallback serves POST /call_back/register_call_back: 71006 when the corp has a
// callback already.
func (s *Server) registerCallback(c *call) reply { return s.saveCallback(c, false) }

// updateCallback serves POST /call_back/update_call_back: it replaces the callback, 71007
// when there is none.
func (s *Server) updateCallback(c *call) reply { return s.saveCallback(c, true) }

// saveCallback validates the registration in the body, verifies its URL with a check_url
// push (unless PushOptions.SkipURLCheck) and stores it, when the corp has a callback
// already (replace) or has none (register).
func (s *Server) saveCallback(c *call, replace bool) reply {
	reg, rep, ok := parse(c, (*CallbackRegistration).check)
	if !ok {
		return rep
	}
	crypter, err := callback.NewCrypter(reg.Token, reg.AESKey, c.app.CorpID)
	if err != nil {
		return c.invalid(err.Error())
	}
	entry := callbackEntry{reg: reg, crypter: crypter}
	store := func(commit bool) reply {
		return s.withCallback(c, func(m map[string]callbackEntry, had bool) reply {
			switch {
			case had && !replace:
				return c.fail(CodeCallbackExists, "回调地址已经存在", OutcomeInvalid)
			case !had && replace:
				return c.noCallback()
			}
			if commit {
				m[c.app.CorpID] = entry
			}
			return c.ok(nil)
		})
	}
	if rep := store(false); rep.outcome != OutcomeOK {
		return rep
	}
	if rep, ok := s.checkURL(c, entry); !ok {
		return rep
	}
	return store(true)
}

// checkURL pushes check_url to a new registration's URL, as DingTalk does before it
// accepts it, and answers CodeCallbackURLCheck unless the reply is an encrypted success
// within 1.5 s. The lock is not held meanwhile, so saveCallback checks 71006/71007 again.
func (s *Server) checkURL(c *call, e callbackEntry) (reply, bool) {
	if s.CurrentPushOptions().SkipURLCheck {
		return reply{}, true
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), urlCheckTimeout)
	defer cancel()
	outcome, err := s.pusher.post(ctx, e, []byte(`{"EventType":"`+callback.EventCheckURL+`"}`))
	s.pusher.count(c.app.CorpID, outcome)
	if err == nil {
		return reply{}, true
	}
	s.logger.Warn("callback URL check failed", "corp", c.app.CorpID, "url", e.reg.URL, "outcome", outcome, "err", err)
	return c.fail(CodeCallbackURLCheck, "回调URL验证失败(check_url): "+outcome, OutcomeInvalid), false
}

// withCallback runs fn on the registrations under their lock, telling whether the app's
// corp has one.
func (s *Server) withCallback(c *call, fn func(m map[string]callbackEntry, had bool) reply) reply {
	s.callbacks.mu.Lock()
	defer s.callbacks.mu.Unlock()
	_, had := s.callbacks.m[c.app.CorpID]
	return fn(s.callbacks.m, had)
}

func (c *call) noCallback() reply {
	return c.fail(CodeNoCallback, "回调地址不存在", OutcomeNotFound)
}

// callbackBody is the get_call_back response: the registration beside errcode.
type callbackBody struct {
	oapiStatus
	CallbackRegistration
}

// getCallback serves GET /call_back/get_call_back.
func (s *Server) getCallback(c *call) reply {
	reg, ok := s.Callback(c.app.CorpID)
	if !ok {
		return c.noCallback()
	}
	return c.okFlat(callbackBody{c.oapiOK(), reg})
}

// deleteCallback serves POST /call_back/delete_call_back.
func (s *Server) deleteCallback(c *call) reply {
	return s.withCallback(c, func(m map[string]callbackEntry, had bool) reply {
		if !had {
			return c.noCallback()
		}
		delete(m, c.app.CorpID)
		return c.ok(nil)
	})
}
