// Package secretbox encrypts credentials at rest with AES-256-GCM under a key taken from the
// environment (DINGSYNC_SECRET_KEY). The database only ever holds what Seal returns.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvKey is the environment variable that holds the base64 encoding of the 32-byte key.
const EnvKey = "DINGSYNC_SECRET_KEY"

// Box seals and opens secrets. The zero value is unusable; build one with New or FromEnv.
type Box struct {
	aead cipher.AEAD
}

// FromEnv builds a Box from DINGSYNC_SECRET_KEY, with an error that says how to make a key.
func FromEnv() (*Box, error) {
	raw, ok := os.LookupEnv(EnvKey)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%s is not set: it must hold a base64-encoded 32-byte key that encrypts DingTalk credentials at rest; make one with `openssl rand -base64 32` and keep it in your secret store (losing it makes stored credentials unreadable)", EnvKey)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s is not valid base64 (%v): make a key with `openssl rand -base64 32`", EnvKey, err)
	}
	box, err := New(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKey, err)
	}
	return box, nil
}

// New builds a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the key is %d bytes long, AES-256 needs exactly 32: make one with `openssl rand -base64 32`", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; context (for example "corp/kind/version") is authenticated but not
// stored, so a ciphertext moved to another row no longer opens.
func (b *Box) Seal(plaintext, context string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context)), nil
}

// ErrWrongKey means a stored secret cannot be opened: the key differs from the one it was
// sealed with, or the row was tampered with.
var ErrWrongKey = errors.New("stored secret cannot be decrypted: DINGSYNC_SECRET_KEY differs from the key it was stored with (or the row was altered); restore the original key or store the credential again")

// Open decrypts what Seal returned for the same context.
func (b *Box) Open(sealed []byte, context string) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return "", ErrWrongKey
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return "", ErrWrongKey
	}
	return string(plain), nil
}
