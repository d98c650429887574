package conformance

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

type ed25519PublicKey = ed25519.PublicKey

// Verify takes reports from anywhere: it never panics, and whatever it accepts
// re-encodes to a report that verifies again.
func FuzzVerify(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	rep := sampleReport()
	_ = rep.Sign(key)
	for _, format := range []string{FormatYAML, FormatJSON} {
		var buf bytes.Buffer
		_ = rep.Write(&buf, format)
		f.Add(buf.Bytes())
	}
	f.Add([]byte("{}"))
	f.Add([]byte("kind: ConformanceReport\napiVersion: meshperf.io/v1alpha1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Verify(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := got.Write(&buf, FormatJSON); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(buf.Bytes()); err != nil {
			t.Fatalf("accepted, then refused after re-encoding: %v", err)
		}
	})
}
