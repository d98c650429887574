package conformance

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Signature proves who produced a report and that it was not altered: ed25519 over
// the report's canonical JSON (the report without its signature, encoded by this
// package), so the YAML and the JSON form verify alike.
type Signature struct {
	Algorithm string `json:"algorithm" yaml:"algorithm"`
	// KeyID is the first 16 hex digits of the SHA-256 of the public key.
	KeyID     string `json:"keyID" yaml:"keyID"`
	PublicKey string `json:"publicKey" yaml:"publicKey"` // base64
	Value     string `json:"value" yaml:"value"`         // base64
}

// Algorithm of signatures.
const Algorithm = "ed25519"

// KeyID names a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// canonical is the signed form: the report without its signature as JSON, with
// nulls, empty lists and empty objects left out (so that YAML, which cannot tell
// an absent list from an empty one, round-trips) and object keys sorted.
func (rep *Report) canonical() ([]byte, error) {
	cp := *rep
	cp.Signature = nil
	raw, err := json.Marshal(&cp)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	v, _ = prune(v)
	return json.Marshal(v)
}

// prune drops nulls, empty lists and empty objects; false when v itself is one.
func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		for k, e := range x {
			if pe, ok := prune(e); ok {
				x[k] = pe
			} else {
				delete(x, k)
			}
		}
		return x, len(x) > 0
	case []any:
		out := x[:0]
		for _, e := range x {
			if pe, ok := prune(e); ok {
				out = append(out, pe)
			} else {
				out = append(out, map[string]any{}) // keep positions
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

// Sign signs the report with key, replacing any signature.
func (rep *Report) Sign(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("signing key: not an ed25519 private key")
	}
	msg, err := rep.canonical()
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	rep.Signature = &Signature{Algorithm: Algorithm, KeyID: KeyID(pub),
		PublicKey: base64.StdEncoding.EncodeToString(pub), Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))}
	return nil
}

// Verify decodes a signed report (YAML or JSON) and checks its signature; when
// trusted keys are given, the signer must be one of them. Errors say what is wrong:
// not signed, altered, or signed by another key.
func Verify(data []byte, trusted ...ed25519.PublicKey) (*Report, error) {
	rep, err := Decode(data)
	if err != nil {
		return nil, err
	}
	sig := rep.Signature
	if sig == nil {
		return rep, errors.New("report is not signed")
	}
	if sig.Algorithm != Algorithm {
		return rep, fmt.Errorf("signature: algorithm %q, want %s", sig.Algorithm, Algorithm)
	}
	pub, err := base64.StdEncoding.DecodeString(sig.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return rep, errors.New("signature: publicKey is not a base64 ed25519 public key")
	}
	if KeyID(pub) != sig.KeyID {
		return rep, fmt.Errorf("signature: keyID %s does not name the public key (%s)", sig.KeyID, KeyID(pub))
	}
	value, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil || len(value) != ed25519.SignatureSize {
		return rep, errors.New("signature: value is not a base64 ed25519 signature")
	}
	msg, err := rep.canonical()
	if err != nil {
		return rep, err
	}
	if !ed25519.Verify(pub, msg, value) {
		return rep, fmt.Errorf("signature does not match: the report was altered after key %s signed it", sig.KeyID)
	}
	if len(trusted) > 0 {
		for _, k := range trusted {
			if k.Equal(ed25519.PublicKey(pub)) {
				return rep, nil
			}
		}
		ids := make([]string, len(trusted))
		for i, k := range trusted {
			ids[i] = KeyID(k)
		}
		return rep, fmt.Errorf("report is intact but signed by key %s, which is not trusted (trusted: %s)", sig.KeyID, strings.Join(ids, ", "))
	}
	return rep, nil
}

// GenerateKey makes a signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	return key, err
}

// MarshalPrivateKey encodes a key as PEM (PKCS #8).
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes a public key as PEM (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a PEM PKCS #8 ed25519 key, or the base64 of its 32-byte seed
// (handy in a CI secret).
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if b, _ := pem.Decode(data); b != nil {
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("signing key: not an ed25519 key")
		}
		return ek, nil
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("signing key: neither a PEM PKCS #8 ed25519 key nor the base64 of a 32-byte seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads a PEM PKIX ed25519 public key or its base64.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if b, _ := pem.Decode(data); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("public key: not an ed25519 key")
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("public key: neither a PEM ed25519 public key nor the base64 of one")
	}
	return ed25519.PublicKey(raw), nil
}
