package callback

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
)

// The official test vector (dingtalk-api.md §6a).
const (
	vecToken     = "123456"
	vecAESKey    = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij"
	vecOwner     = "suite4xxxxxxxxxxxxxxx"
	vecTimestamp = "1445827045067"
	vecNonce     = "nEXhMP4r"
	vecSignature = "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0"
	vecEncrypt   = "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdUBmfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9PhSBdHlegK+AGGanfwjXuQ9+0pZcy0w9lQ=="
	vecPlaintext = `{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}`
	vecPrefix    = "hU3bEfGZZewzhG5a"
)

func vecCrypter(t testing.TB) *Crypter {
	t.Helper()
	c, err := NewCrypter(vecToken, vecAESKey, vecOwner)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOfficialVector(t *testing.T) {
	c := vecCrypter(t)
	if got := c.Signature(vecTimestamp, vecNonce, vecEncrypt); got != vecSignature {
		t.Fatalf("signature %s, want %s", got, vecSignature)
	}
	msg, err := c.Decrypt(vecSignature, vecTimestamp, vecNonce, vecEncrypt)
	if err != nil || string(msg) != vecPlaintext {
		t.Fatalf("decrypt = %q, %v; want %q", msg, err, vecPlaintext)
	}
	var prefix [16]byte
	copy(prefix[:], vecPrefix)
	enc, err := c.EncryptWithPrefix(prefix, []byte(vecPlaintext))
	if err != nil || enc != vecEncrypt {
		t.Fatalf("re-encrypt = %q, %v; want the vector's encrypt", enc, err)
	}
	if _, err := c.Decrypt(strings.ToUpper(vecSignature), vecTimestamp, vecNonce, vecEncrypt); err != nil {
		t.Fatalf("upper-case hex signature: %v", err)
	}
}

func TestNewCrypterValidates(t *testing.T) {
	tests := []struct {
		name, token, key, owner, wantField string
	}{
		{"empty token", "", vecAESKey, vecOwner, "token"},
		{"empty owner", vecToken, vecAESKey, "", "owner key"},
		{"key of 42", vecToken, vecAESKey[1:], vecOwner, "EncodingAESKey has 42"},
		{"key of 44", vecToken, vecAESKey + "a", vecOwner, "EncodingAESKey has 44"},
		{"key not base64", vecToken, "!" + vecAESKey[1:], vecOwner, "EncodingAESKey is not base64"},
		{"key with padding", vecToken, vecAESKey[:42] + "=", vecOwner, "EncodingAESKey is not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCrypter(tt.token, tt.key, tt.owner)
			if err == nil || !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("err %v, want one naming %q", err, tt.wantField)
			}
			if len(tt.key) > 8 && strings.Contains(err.Error(), tt.key[1:40]) {
				t.Fatalf("the error echoes the key: %v", err)
			}
		})
	}
}

// DingTalk generates keys of 43 letters and digits, whose last character carries 2 bits
// beyond the 32 bytes: every such key must be accepted.
func TestNewCrypterAcceptsEveryAlphanumericKey(t *testing.T) {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for _, last := range alnum {
		key := strings.Repeat("a", 42) + string(last)
		if _, err := NewCrypter(vecToken, key, vecOwner); err != nil {
			t.Fatalf("key ending in %c: %v", last, err)
		}
	}
}

// rawEncrypt AES-CBC-encrypts plain (whole blocks) with c's key and signs it, bypassing
// the framing, to build messages Encrypt never would.
func rawEncrypt(c *Crypter, plain []byte) (encrypt, signature string) {
	data := bytes.Clone(plain)
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(data, data)
	encrypt = base64.StdEncoding.EncodeToString(data)
	return encrypt, c.Signature(vecTimestamp, vecNonce, encrypt)
}

// frame builds prefix ‖ length ‖ msg ‖ owner ‖ pad with the given length field and
// padding, which may be wrong.
func frame(length uint32, msg, owner string, pad []byte) []byte {
	b := bytes.Repeat([]byte{'p'}, 16)
	b = binary.BigEndian.AppendUint32(b, length)
	b = append(b, msg...)
	b = append(b, owner...)
	return append(b, pad...)
}

// padFor is valid padding after n bytes of content.
func padFor(n int) []byte {
	p := 32 - n%32
	return bytes.Repeat([]byte{byte(p)}, p)
}

func TestDecryptErrors(t *testing.T) {
	c := vecCrypter(t)
	good := func(msg, owner string) []byte {
		return frame(uint32(len(msg)), msg, owner, padFor(20+len(msg)+len(owner)))
	}
	const msg = `{"EventType":"check_url"}` // 25 bytes: 20+25+21 = 66 → 30 pad bytes
	withPad := func(pad []byte) []byte { return frame(25, msg, vecOwner, pad) }
	tests := []struct {
		name  string
		plain []byte // encrypted raw and signed, unless enc is set
		enc   func() (encrypt, signature string)
		want  error
	}{
		{name: "tampered signature", want: ErrBadSignature, enc: func() (string, string) {
			return vecEncrypt, "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c1"
		}},
		{name: "empty signature", want: ErrBadSignature, enc: func() (string, string) { return vecEncrypt, "" }},
		{name: "wrong token", want: ErrBadSignature, enc: func() (string, string) {
			other, _ := NewCrypter("654321", vecAESKey, vecOwner)
			return vecEncrypt, other.Signature(vecTimestamp, vecNonce, vecEncrypt)
		}},
		{name: "tampered body", want: ErrBadSignature, enc: func() (string, string) {
			return "2" + vecEncrypt[1:], vecSignature
		}},
		{name: "not base64", want: ErrMalformed, enc: func() (string, string) {
			return "not*base64", c.Signature(vecTimestamp, vecNonce, "not*base64")
		}},
		{name: "empty body", want: ErrMalformed, enc: func() (string, string) { return "", c.Signature(vecTimestamp, vecNonce, "") }},
		{name: "non-block length", want: ErrMalformed, enc: func() (string, string) {
			e := base64.StdEncoding.EncodeToString(make([]byte, 40))
			return e, c.Signature(vecTimestamp, vecNonce, e)
		}},
		{name: "pad byte 0", plain: withPad(append(bytes.Repeat([]byte{30}, 29), 0)), want: ErrBadPadding},
		{name: "pad byte 33", plain: frame(25, msg, vecOwner[:18], bytes.Repeat([]byte{33}, 33)), want: ErrBadPadding},
		{name: "pad byte 255", plain: withPad(append(bytes.Repeat([]byte{30}, 29), 255)), want: ErrBadPadding},
		{name: "inconsistent pad", plain: withPad(append(append(bytes.Repeat([]byte{30}, 14), 7), bytes.Repeat([]byte{30}, 15)...)), want: ErrBadPadding},
		{name: "wrong AES key", want: ErrBadPadding, enc: func() (string, string) {
			other, _ := NewCrypter(vecToken, strings.Repeat("A", 43), vecOwner)
			e, _ := other.EncryptWithPrefix([16]byte{}, []byte(msg))
			return e, c.Signature(vecTimestamp, vecNonce, e)
		}},
		{name: "truncated before the length field", plain: append(bytes.Repeat([]byte{'p'}, 16), bytes.Repeat([]byte{16}, 16)...), want: ErrMalformed},
		{name: "length field overflow", plain: frame(67, msg, vecOwner, padFor(66)), want: ErrMalformed},
		{name: "length field 2^32-1", plain: frame(1<<32-1, msg, vecOwner, padFor(66)), want: ErrMalformed},
		{name: "wrong owner key", plain: good(msg, "dingcorpother00000000"), want: ErrWrongOwner},
		{name: "no owner key", plain: good(msg, ""), want: ErrWrongOwner},
		{name: "owner key prefix only", plain: good(msg, vecOwner[:10]), want: ErrWrongOwner},
		{name: "length field too short", plain: frame(24, msg, vecOwner, padFor(66)), want: ErrWrongOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var enc, sig string
			if tt.enc != nil {
				enc, sig = tt.enc()
			} else {
				enc, sig = rawEncrypt(c, tt.plain)
			}
			got, err := c.Decrypt(sig, vecTimestamp, vecNonce, enc)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decrypt = %q, %v; want %v", got, err, tt.want)
			}
			for _, other := range []error{ErrBadSignature, ErrBadPadding, ErrWrongOwner, ErrMalformed} {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("%v is also %v", err, other)
				}
			}
		})
	}
	// The raw framing itself is right: the good message decrypts.
	enc, sig := rawEncrypt(c, good(msg, vecOwner))
	if got, err := c.Decrypt(sig, vecTimestamp, vecNonce, enc); err != nil || string(got) != msg {
		t.Fatalf("well-formed raw message: %q, %v", got, err)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	roundTrip := func(msg []byte, timestamp, nonce string) bool {
		key := make([]byte, 43)
		const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		for i := range key {
			key[i] = alnum[rng.IntN(len(alnum))]
		}
		c, err := NewCrypter("tok"+nonce, string(key), "dingcorp"+timestamp)
		if err != nil {
			t.Log(err)
			return false
		}
		enc, sig, err := c.Encrypt(msg, timestamp, nonce)
		if err != nil {
			return false
		}
		got, err := c.Decrypt(sig, timestamp, nonce, enc)
		return err == nil && bytes.Equal(got, msg) && len(enc)%4 == 0
	}
	if err := quick.Check(roundTrip, &quick.Config{MaxCount: 500}); err != nil {
		t.Fatal(err)
	}
	// Every padding length 1..32 occurs.
	c := vecCrypter(t)
	for n := range 64 {
		msg := bytes.Repeat([]byte{'x'}, n)
		enc, sig, err := c.Encrypt(msg, vecTimestamp, vecNonce)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Decrypt(sig, vecTimestamp, vecNonce, enc); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: %q, %v", n, got, err)
		}
	}
}

func TestEncryptIsRandomized(t *testing.T) {
	c := vecCrypter(t)
	a, _, _ := c.Encrypt([]byte("same"), vecTimestamp, vecNonce)
	b, _, _ := c.Encrypt([]byte("same"), vecTimestamp, vecNonce)
	if a == b {
		t.Fatal("two encryptions of one message are equal: the prefix is not random")
	}
}

func TestSuccessReply(t *testing.T) {
	c := vecCrypter(t)
	r, err := c.SuccessReply("1700000000000", "abcd1234")
	if err != nil {
		t.Fatal(err)
	}
	if r.TimeStamp != "1700000000000" || r.Nonce != "abcd1234" {
		t.Fatalf("reply %+v", r)
	}
	msg, err := c.Decrypt(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt)
	if err != nil || string(msg) != "success" {
		t.Fatalf("reply decrypts to %q, %v", msg, err)
	}
}
