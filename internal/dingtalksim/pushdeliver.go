package dingtalksim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
)

// deliver POSTs a push as DingTalk does and tells how it went:
// POST <url>?msg_signature=&timestamp=<ms>&nonce=<8 chars>&signature= with the body
// {"encrypt": ...}; only HTTP 200 with an encrypted "success" that verifies is delivered.
func (p *pusher) deliver(it push, timeout time.Duration) string {
	if timeout <= 0 {
		timeout = defaultPushTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	outcome, err := p.post(ctx, it.target, it.payload)
	if err != nil {
		p.logger.Warn("push failed", "corp", it.corpID, "event", it.tag, "url", it.target.reg.URL, "outcome", outcome, "err", err)
	}
	return outcome
}

// post sends one encrypted payload to target's URL and checks the reply.
func (p *pusher) post(ctx context.Context, target callbackEntry, payload []byte) (string, error) {
	ts, nonce := strconv.FormatInt(p.clock().UnixMilli(), 10), randomString(nonceAlphabet, 8)
	enc, sig, err := target.crypter.Encrypt(payload, ts, nonce)
	if err != nil {
		return PushError, err
	}
	u, err := url.Parse(target.reg.URL)
	if err != nil {
		return PushError, err
	}
	query := url.Values{"msg_signature": {sig}, "signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}.Encode()
	if u.RawQuery != "" {
		query = u.RawQuery + "&" + query
	}
	u.RawQuery = query
	body, _ := json.Marshal(map[string]string{"encrypt": enc})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return PushError, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return failure(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	if err != nil {
		return failure(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return PushBadReply, errors.New("HTTP " + resp.Status)
	}
	var reply callback.Reply
	if err := json.Unmarshal(raw, &reply); err != nil {
		return PushBadReply, err
	}
	msg, err := target.crypter.Decrypt(reply.MsgSignature, reply.TimeStamp, reply.Nonce, reply.Encrypt)
	switch {
	case err != nil:
		return PushBadReply, err
	case string(msg) != "success":
		return PushBadReply, errors.New("the reply decrypts to " + strconv.Quote(string(msg[:min(len(msg), 40)])) + ", not success")
	}
	return PushDelivered, nil
}

// failure classifies a transport error: the deadline passing is a timeout.
func failure(ctx context.Context, err error) (string, error) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return PushTimeout, err
	}
	return PushError, err
}
