// Package secrets seals what the server must keep but never show — kubeconfigs and
// cluster credentials — with AES-256-GCM under a key that lives outside the database.
// A stolen database (or backup) alone reveals no credential.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the AES-256 key length.
const KeySize = 32

// magic starts every sealed value: format version 1.
var magic = []byte("mps1")

// ErrWrongKey means a value was sealed under another key (or altered).
var ErrWrongKey = errors.New("the secret cannot be opened with this server's secret key (another key sealed it, or it was altered)")

// Box seals and opens values under one key.
type Box struct {
	aead  cipher.AEAD
	keyID [4]byte
}

// New makes a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	b := &Box{aead: aead}
	sum := sha256.Sum256(key)
	copy(b.keyID[:], sum[:4])
	return b, nil
}

// LoadOrCreate reads the key file (base64 of 32 bytes), or creates it with a random
// key (mode 0600) when it does not exist. created reports a new key.
func LoadOrCreate(path string) (box *Box, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("--secret-key-file: %w", err)
		}
		// O_EXCL: two servers starting at once on one data directory keep one key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreate(path)
		}
		if err != nil {
			return nil, false, fmt.Errorf("--secret-key-file: %w", err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return nil, false, fmt.Errorf("--secret-key-file: %w", werr)
		}
		b, err := New(key)
		return b, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("--secret-key-file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != KeySize {
		return nil, false, fmt.Errorf("--secret-key-file %s: want the base64 of %d random bytes (e.g. `head -c 32 /dev/urandom | base64`)", path, KeySize)
	}
	b, err := New(key)
	return b, false, err
}

// Seal encrypts plaintext. bind is authenticated but not stored: a sealed value only
// opens with the same bind (e.g. the row id), so it cannot be moved to another row.
func (b *Box) Seal(plaintext, bind []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the system has no entropy: nothing is safe
	}
	out := make([]byte, 0, len(magic)+len(b.keyID)+len(nonce)+len(plaintext)+b.aead.Overhead())
	out = append(out, magic...)
	out = append(out, b.keyID[:]...)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, bind)
}

// Open decrypts a value sealed by Seal with the same bind.
func (b *Box) Open(sealed, bind []byte) ([]byte, error) {
	head := len(magic) + len(b.keyID) + b.aead.NonceSize()
	if len(sealed) < head+b.aead.Overhead() || !bytes.Equal(sealed[:len(magic)], magic) {
		return nil, errors.New("not a sealed secret")
	}
	if !bytes.Equal(sealed[len(magic):len(magic)+len(b.keyID)], b.keyID[:]) {
		return nil, ErrWrongKey
	}
	nonce := sealed[len(magic)+len(b.keyID) : head]
	pt, err := b.aead.Open(nil, nonce, sealed[head:], bind)
	if err != nil {
		return nil, ErrWrongKey
	}
	return pt, nil
}
