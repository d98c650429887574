package charts_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts"
	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/adapters/linkerd"
)

func TestRepoVersionsLoadAndRender(t *testing.T) {
	repo := chartstest.Serve(t, append(chartstest.Istio("1.24.2"), chartstest.Istio("1.23.4")...)...)
	r := charts.NewRepo(repo.URL)
	ctx := context.Background()
	idx, err := r.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(idx.Versions("istiod"), ","); got != "1.24.2,1.23.4" {
		t.Fatalf("versions %s", got)
	}
	base, err := r.Load(ctx, "base", "1.24.2")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := charts.Render(base, "istio-base", "istio-system", nil, "v1.36.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(rb.CRDs) != 4 || len(rb.Objects) != 1 {
		t.Fatalf("base: %d CRDs, %d objects; want 4 and 1 (NOTES.txt is no object)", len(rb.CRDs), len(rb.Objects))
	}
	istiod, err := r.Load(ctx, "istiod", "1.23.4")
	if err != nil {
		t.Fatal(err)
	}
	ri, err := charts.Render(istiod, "istiod", "istio-system", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var image string
	for _, o := range ri.Objects {
		if o.GetKind() == "Pod" {
			t.Errorf("the test hook was rendered as an object")
		}
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructuredContainers(o.Object)
			image = cs
			if o.GetNamespace() != "istio-system" {
				t.Errorf("namespace %q", o.GetNamespace())
			}
		}
	}
	if image != "docker.io/istio/pilot:1.23.4" {
		t.Errorf("istiod image %q", image)
	}
	if _, err := r.Load(ctx, "istiod", "9.9.9"); err == nil || !strings.Contains(err.Error(), "1.24.2") {
		t.Errorf("a missing version: %v (want the versions offered named)", err)
	}
}

func unstructuredContainers(o map[string]any) (string, bool, error) {
	spec := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	c := spec["containers"].([]any)[0].(map[string]any)
	return c["image"].(string), true, nil
}

func TestDigestMismatchIsRefused(t *testing.T) {
	repo := chartstest.Serve(t, chartstest.Istio("1.24.2")...)
	r := charts.NewRepo(repo.URL)
	idx, err := r.Index(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range idx.Entries["base"] {
		idx.Entries["base"][i].Digest = strings.Repeat("0", 64)
	}
	if _, err := r.Load(context.Background(), "base", "1.24.2"); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("got %v, want a digest mismatch", err)
	}
}

func TestLinkerdNeedsAndGetsItsCertificates(t *testing.T) {
	repo := chartstest.Serve(t, chartstest.Linkerd("1.16.11", "stable-2.14.10")...)
	r := charts.NewRepo(repo.URL)
	ch, err := r.Load(context.Background(), "linkerd-control-plane", "stable-2.14.10") // by app version
	if err != nil {
		t.Fatal(err)
	}
	if _, err := charts.Render(ch, "linkerd-control-plane", "linkerd", nil, ""); err == nil || !strings.Contains(err.Error(), "trust anchors") {
		t.Fatalf("rendered without a trust anchor: %v", err)
	}
	vals, err := linkerd.Spec().Charts[1].Values(context.Background(), nil, adapter.Operation{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := charts.Render(ch, "linkerd-control-plane", "linkerd", vals, "")
	if err != nil {
		t.Fatal(err)
	}
	deps := 0
	for _, o := range out.Objects {
		if o.GetKind() == "Deployment" {
			deps++
		}
	}
	if deps != 3 {
		t.Errorf("%d Deployments, want destination, identity, proxy-injector", deps)
	}
}

func TestLinkerdCertificatesChain(t *testing.T) {
	ca, err := linkerd.NewCertificates(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	parse := func(s string) *x509.Certificate {
		b, _ := pem.Decode([]byte(s))
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	root, iss := parse(ca.TrustAnchorPEM), parse(ca.IssuerCertPEM)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := iss.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("issuer not signed by the trust anchor: %v", err)
	}
	if !iss.IsCA || iss.Subject.CommonName != "identity.linkerd.cluster.local" || root.Subject.CommonName != "root.linkerd.cluster.local" {
		t.Errorf("issuer %v root %v", iss.Subject, root.Subject)
	}
	if iss.PublicKeyAlgorithm != x509.ECDSA || root.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("want ECDSA keys")
	}
	if b, _ := pem.Decode([]byte(ca.IssuerKeyPEM)); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Errorf("issuer key PEM")
	}
}

func TestParseIndexNamesTheField(t *testing.T) {
	for in, want := range map[string]string{
		"apiVersion: v2\nentries: {a: [{version: 1.0.0, urls: [x]}]}":             "index.apiVersion",
		"apiVersion: v1\nentries: {}":                                             "index.entries",
		"apiVersion: v1\nentries: {a: [{version: nope, urls: [x]}]}":              "index.entries.a[0].version",
		"apiVersion: v1\nentries: {a: [{version: 1.0.0}]}":                        "index.entries.a[0].urls",
		"apiVersion: v1\nentries: {a: [{version: 1.0.0, urls: [x], digest: zz}]}": "index.entries.a[0].digest",
		"[": "index",
	} {
		if _, err := charts.ParseIndex([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", in, err, want)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nentries:\n  istiod:\n  - version: 1.24.2\n    appVersion: 1.24.2\n    urls: [istiod-1.24.2.tgz]\n"))
	f.Add([]byte("apiVersion: v1\nentries: {a: [{version: v1.0.0-rc.1, urls: ['https://x/a.tgz'], digest: " + strings.Repeat("ab", 32) + "}]}"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := charts.ParseIndex(data)
		if err != nil {
			return
		}
		for name, es := range idx.Entries {
			vs := idx.Versions(name)
			if len(vs) != len(es) {
				t.Fatalf("an accepted index with a version that does not sort: %v", es)
			}
			for _, v := range vs {
				if _, ok := idx.Find(name, v); !ok {
					t.Fatalf("version %s listed but not found", v)
				}
			}
		}
	})
}
