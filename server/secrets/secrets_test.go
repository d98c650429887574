package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "secret.key")
	box, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	secret := []byte("token: s3cr3t-value")
	sealed := box.Seal(secret, []byte("row-1"))
	if bytes.Contains(sealed, []byte("s3cr3t")) {
		t.Fatal("the sealed value contains the plaintext")
	}
	if again := box.Seal(secret, []byte("row-1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	box2, created, err := LoadOrCreate(path) // the next start reads the same key
	if err != nil || created {
		t.Fatalf("reload: %v created=%v", err, created)
	}
	got, err := box2.Open(sealed, []byte("row-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := box2.Open(sealed, []byte("row-2")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened under another bind: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := box2.Open(tampered, []byte("row-1")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("tampered value opened: %v", err)
	}
	other, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "other.key"))
	if _, err := other.Open(sealed, []byte("row-1")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another key opened it: %v", err)
	}
	if _, err := box2.Open([]byte("short"), nil); err == nil {
		t.Fatal("garbage opened")
	}
}

func TestBadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	os.WriteFile(path, []byte("not base64 at all!\n"), 0o600)
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a bad key file was accepted")
	}
	os.WriteFile(path, []byte("c2hvcnQ=\n"), 0o600) // "short": 5 bytes
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a short key was accepted")
	}
}
