// Package callback signs, encrypts and decrypts DingTalk HTTP-push callbacks and parses
// the contact events they carry (dingtalk-api.md §6a, §6c). It is shared by the event
// receiver and the simulator that pushes to it, so both speak exactly one dialect.
package callback

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Sentinel errors of Decrypt, wrapped with detail: test with errors.Is to count outcomes.
var (
	// ErrBadSignature: msg_signature does not match the token, timestamp, nonce and body.
	ErrBadSignature = errors.New("callback: bad signature")
	// ErrBadPadding: the decrypted message does not end in 1..32 equal padding bytes, which
	// usually means another AES key.
	ErrBadPadding = errors.New("callback: bad padding")
	// ErrWrongOwner: the message is for another owner (CorpId, AppKey or suite key).
	ErrWrongOwner = errors.New("callback: wrong owner key")
	// ErrMalformed: the body is not base64 of whole AES blocks, or its length field does
	// not fit the message.
	ErrMalformed = errors.New("callback: malformed message")
)

const (
	encodingAESKeyLen = 43
	prefixLen         = 16 // random bytes before the length field
	headerLen         = prefixLen + 4
	padBlock          = 32 // DingTalk pads to 32 bytes, not AES's 16
	ownerShown        = 64 // bytes of a wrong owner key quoted in errors
	successMsg        = "success"
)

// Crypter signs, encrypts and decrypts DingTalk HTTP-push callbacks for one registration.
type Crypter struct {
	token    string
	key      []byte // AES-256 key; its first 16 bytes are the IV
	block    cipher.Block
	ownerKey []byte
}

// NewCrypter returns the Crypter of a registration: its token, its 43-character
// EncodingAESKey and the owner key its messages end with (the CorpId for callbacks
// registered with register_call_back, the AppKey for ones set in the developer console).
// Errors name the bad field and never contain the key.
func NewCrypter(token, encodingAESKey, ownerKey string) (*Crypter, error) {
	if token == "" {
		return nil, errors.New("callback: token is empty")
	}
	if ownerKey == "" {
		return nil, errors.New("callback: owner key is empty")
	}
	if n := len(encodingAESKey); n != encodingAESKeyLen {
		return nil, fmt.Errorf("callback: EncodingAESKey has %d characters, want %d", n, encodingAESKeyLen)
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("callback: EncodingAESKey is not base64 of a 32-byte key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("callback: EncodingAESKey: %w", err)
	}
	return &Crypter{token: token, key: key, block: block, ownerKey: []byte(ownerKey)}, nil
}

// Signature is the msg_signature of an encrypted body: hex(SHA1) of the token, timestamp,
// nonce and encrypt, sorted and concatenated.
func (c *Crypter) Signature(timestamp, nonce, encrypt string) string {
	parts := []string{c.token, timestamp, nonce, encrypt}
	slices.Sort(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// Decrypt verifies signature (in constant time) and returns the message encrypt carries.
// Errors wrap ErrBadSignature, ErrMalformed, ErrBadPadding or ErrWrongOwner.
func (c *Crypter) Decrypt(signature, timestamp, nonce, encrypt string) ([]byte, error) {
	want := c.Signature(timestamp, nonce, encrypt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(signature))) != 1 {
		return nil, fmt.Errorf("%w: msg_signature does not match the token and body", ErrBadSignature)
	}
	data, err := base64.StdEncoding.DecodeString(encrypt)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: encrypt is not base64: %v", ErrMalformed, err)
	case len(data) == 0 || len(data)%aes.BlockSize != 0:
		return nil, fmt.Errorf("%w: %d bytes of ciphertext are not whole AES blocks", ErrMalformed, len(data))
	}
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(data, data)
	data, err = unpad(data)
	if err != nil {
		return nil, err
	}
	return c.open(data)
}

// unpad strips DingTalk's padding: n bytes of value n, 1 ≤ n ≤ 32.
func unpad(data []byte) ([]byte, error) {
	n := int(data[len(data)-1])
	if n < 1 || n > padBlock || n > len(data) {
		return nil, fmt.Errorf("%w: pad byte %d is not within 1..%d", ErrBadPadding, n, padBlock)
	}
	for _, b := range data[len(data)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("%w: the %d pad bytes differ", ErrBadPadding, n)
		}
	}
	return data[:len(data)-n], nil
}

// open splits random ‖ length ‖ message ‖ owner key and checks the owner key.
func (c *Crypter) open(data []byte) ([]byte, error) {
	if len(data) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrMalformed, len(data), headerLen)
	}
	n := binary.BigEndian.Uint32(data[prefixLen:headerLen])
	if uint64(n) > uint64(len(data)-headerLen) {
		return nil, fmt.Errorf("%w: length field %d exceeds the %d bytes that follow it", ErrMalformed, n, len(data)-headerLen)
	}
	msg, owner := data[headerLen:headerLen+int(n)], data[headerLen+int(n):]
	if !bytes.Equal(owner, c.ownerKey) {
		return nil, fmt.Errorf("%w: the message is for %q", ErrWrongOwner, owner[:min(len(owner), ownerShown)])
	}
	return msg, nil
}

// Encrypt encrypts msg behind a random 16-byte prefix and signs it: the encrypt and
// msg_signature of a push or a reply with this timestamp and nonce.
func (c *Crypter) Encrypt(msg []byte, timestamp, nonce string) (encrypt, signature string, err error) {
	var prefix [prefixLen]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return "", "", fmt.Errorf("callback: random prefix: %w", err)
	}
	encrypt, err = c.EncryptWithPrefix(prefix, msg)
	if err != nil {
		return "", "", err
	}
	return encrypt, c.Signature(timestamp, nonce, encrypt), nil
}

// EncryptWithPrefix encrypts msg behind the given prefix instead of a random one: it is
// deterministic, to reproduce known ciphertexts in tests.
func (c *Crypter) EncryptWithPrefix(prefix [16]byte, msg []byte) (string, error) {
	if uint64(len(msg)) > math.MaxUint32 {
		return "", fmt.Errorf("callback: a %d-byte message does not fit the 32-bit length field", len(msg))
	}
	size := headerLen + len(msg) + len(c.ownerKey)
	pad := padBlock - size%padBlock
	data := make([]byte, 0, size+pad)
	data = append(data, prefix[:]...)
	data = binary.BigEndian.AppendUint32(data, uint32(len(msg)))
	data = append(data, msg...)
	data = append(data, c.ownerKey...)
	data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(data, data)
	return base64.StdEncoding.EncodeToString(data), nil
}

// Reply is the JSON body a receiver answers a push with.
type Reply struct {
	MsgSignature string `json:"msg_signature"`
	TimeStamp    string `json:"timeStamp"`
	Nonce        string `json:"nonce"`
	Encrypt      string `json:"encrypt"`
}

// SuccessReply is the reply that acknowledges a push: the literal "success", encrypted
// and signed with timestamp and nonce.
func (c *Crypter) SuccessReply(timestamp, nonce string) (Reply, error) {
	encrypt, sig, err := c.Encrypt([]byte(successMsg), timestamp, nonce)
	if err != nil {
		return Reply{}, err
	}
	return Reply{MsgSignature: sig, TimeStamp: timestamp, Nonce: nonce, Encrypt: encrypt}, nil
}
