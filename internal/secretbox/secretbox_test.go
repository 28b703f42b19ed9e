package secretbox

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRoundTrip(t *testing.T) {
	box, err := New(testKey(7))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("s3cr3t-app-secret", "corp1/app_secret/1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cr3t")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := box.Open(sealed, "corp1/app_secret/1")
	if err != nil || got != "s3cr3t-app-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestOpenRefusesOtherContextOrKey(t *testing.T) {
	box, _ := New(testKey(7))
	other, _ := New(testKey(8))
	sealed, _ := box.Seal("secret", "corp1/app_secret/1")
	if _, err := box.Open(sealed, "corp2/app_secret/1"); err != ErrWrongKey {
		t.Fatalf("other context: err = %v, want ErrWrongKey", err)
	}
	if _, err := other.Open(sealed, "corp1/app_secret/1"); err != ErrWrongKey {
		t.Fatalf("other key: err = %v, want ErrWrongKey", err)
	}
	if _, err := box.Open([]byte("short"), "corp1/app_secret/1"); err != ErrWrongKey {
		t.Fatalf("truncated: err = %v, want ErrWrongKey", err)
	}
}

func TestFromEnvErrorsNameTheFix(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{"missing", "", "is not set"},
		{"not base64", "%%%", "not valid base64"},
		{"short key", base64.StdEncoding.EncodeToString([]byte("short")), "exactly 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvKey, c.value)
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Fatalf("err = %v, want it to contain %q and the fix", err, c.want)
			}
		})
	}
	t.Setenv(EnvKey, base64.StdEncoding.EncodeToString(testKey(1)))
	if _, err := FromEnv(); err != nil {
		t.Fatalf("valid key: %v", err)
	}
}
