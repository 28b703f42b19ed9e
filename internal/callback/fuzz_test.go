package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>; run longer locally with e.g.
// go test -run '^$' -fuzz FuzzDecrypt -fuzztime 30s ./internal/callback

var sentinels = []error{ErrBadSignature, ErrBadPadding, ErrWrongOwner, ErrMalformed}

// checkDecrypt holds Decrypt's promises: each error is exactly one sentinel, and a
// message that decrypts survives an encrypt/decrypt round trip.
func checkDecrypt(t *testing.T, c *Crypter, msg []byte, err error) {
	t.Helper()
	if err != nil {
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %q matches %d sentinels, want 1", err, n)
		}
		return
	}
	enc, sig, err := c.Encrypt(msg, vecTimestamp, vecNonce)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Decrypt(sig, vecTimestamp, vecNonce, enc)
	if err != nil || !bytes.Equal(again, msg) {
		t.Fatalf("round trip of %q: %q, %v", msg, again, err)
	}
}

func FuzzDecrypt(f *testing.F) {
	c := vecCrypter(f)
	f.Add(vecSignature, vecTimestamp, vecNonce, vecEncrypt, []byte{})
	f.Fuzz(func(t *testing.T, signature, timestamp, nonce, encrypt string, plain []byte) {
		// As received.
		msg, err := c.Decrypt(signature, timestamp, nonce, encrypt)
		checkDecrypt(t, c, msg, err)
		// Correctly signed, to reach the decryption.
		msg, err = c.Decrypt(c.Signature(timestamp, nonce, encrypt), timestamp, nonce, encrypt)
		if errors.Is(err, ErrBadSignature) {
			t.Fatalf("a correct signature is refused: %v", err)
		}
		checkDecrypt(t, c, msg, err)
		// plain as the decrypted bytes, to reach the padding, length and owner checks.
		plain = plain[:len(plain)/16*16]
		if len(plain) == 0 {
			return
		}
		enc, sig := rawEncrypt(c, plain)
		msg, err = c.Decrypt(sig, vecTimestamp, vecNonce, enc)
		checkDecrypt(t, c, msg, err)
		if err != nil {
			return
		}
		if !bytes.Equal(msg, plain[20:20+len(msg)]) {
			t.Fatalf("decrypted %q is not the framed message of %q", msg, plain)
		}
		prefix := [16]byte(plain[:16])
		canonical, err := c.EncryptWithPrefix(prefix, msg)
		if err != nil {
			t.Fatal(err)
		}
		if isCanonical(plain) != (canonical == enc) {
			t.Fatalf("canonical %v, but re-encryption equal %v", isCanonical(plain), canonical == enc)
		}
	})
}

// isCanonical says whether plain is padded as EncryptWithPrefix pads: the fewest 32-byte
// blocks, with 32 pad bytes rather than none.
func isCanonical(plain []byte) bool {
	p := int(plain[len(plain)-1])
	return p == 32-(len(plain)-p)%32
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"EventType":"user_add_org","TimeStamp":1700000000123,"UserId":["u1"],"CorpId":"c","eventId":"e"}`))
	f.Add([]byte(`{"EventType":"bpms_instance_change","processInstanceId":"i-1","processCode":"PROC-1","type":"finish","result":"agree","finishTime":1700000000123}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent(data)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Type == "" || len(ev.UserIDs)+len(ev.DeptIDs) > maxIDs {
			t.Fatalf("ParseEvent(%q) = %+v", data, ev)
		}
		if again, _ := ParseEvent(data); again.ID != ev.ID {
			t.Fatalf("unstable id: %s then %s", ev.ID, again.ID)
		}
		// What parsed re-encodes, in the other key style, to the same event.
		doc := map[string]any{"eventType": ev.Type, "eventId": ev.ID, "corpId": ev.CorpID}
		if !ev.Time.IsZero() {
			doc["timeStamp"] = ev.Time.UnixMilli()
		}
		if ev.UserIDs != nil {
			doc["userId"] = ev.UserIDs
		}
		if ev.DeptIDs != nil {
			doc["deptId"] = ev.DeptIDs
		}
		if a := ev.Approval; a != nil {
			doc["processInstanceId"], doc["processCode"], doc["type"], doc["result"] = a.InstanceID, a.ProcessCode, a.Change, a.Result
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseEvent(raw)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", raw, err)
		}
		if back.ID != ev.ID || back.Type != ev.Type || back.CorpID != ev.CorpID || !back.Time.Equal(ev.Time) ||
			!slices.Equal(back.UserIDs, ev.UserIDs) || !slices.Equal(back.DeptIDs, ev.DeptIDs) ||
			(back.UserIDs == nil) != (ev.UserIDs == nil) || (back.DeptIDs == nil) != (ev.DeptIDs == nil) ||
			(back.Approval == nil) != (ev.Approval == nil) || back.Approval != nil && (back.Approval.InstanceID != ev.Approval.InstanceID ||
			back.Approval.ProcessCode != ev.Approval.ProcessCode || back.Approval.Change != ev.Approval.Change) {
			t.Fatalf("%s parsed to %+v, re-encoded %s parsed to %+v", data, ev, raw, back)
		}
	})
}
