// Package linkerd is meshperf's Linkerd adapter: Linkerd's official Helm charts
// (linkerd-crds, then linkerd-control-plane) in namespace linkerd, with a trust anchor
// and an issuer certificate generated for each install (ECDSA P-256, as `linkerd
// install` makes them); injection by the linkerd.io/inject annotation; mesh-wide
// mTLS mode by the default inbound policy annotation.
package linkerd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts"
	"github.com/meshperf/meshperf/adapters/helmmesh"
)

// DefaultRepo is Linkerd's official stable chart repository (edge releases are at
// https://helm.linkerd.io/edge).
const DefaultRepo = "https://helm.linkerd.io/stable"

// New returns the Linkerd mesh reading charts from repoURL ("" = DefaultRepo).
func New(repoURL, sampleImage string) *helmmesh.Mesh {
	if repoURL == "" {
		repoURL = DefaultRepo
	}
	return &helmmesh.Mesh{Repo: charts.NewRepo(repoURL), SampleImage: sampleImage, Spec: Spec()}
}

func ptr(s string) *string { return &s }

// Spec is Linkerd's knowledge.
func Spec() helmmesh.Spec {
	return helmmesh.Spec{
		Mesh:             "linkerd",
		DefaultNamespace: "linkerd",
		Charts: []helmmesh.Chart{{Name: "linkerd-crds", Release: "linkerd-crds"},
			{Name: "linkerd-control-plane", Release: "linkerd-control-plane", Values: controlPlaneValues}},
		VersionChart: "linkerd-control-plane",
		Injection: func(enabled bool) (map[string]*string, map[string]*string) {
			if enabled {
				return nil, map[string]*string{"linkerd.io/inject": ptr("enabled")}
			}
			return nil, map[string]*string{"linkerd.io/inject": ptr("disabled")}
		},
		PodInjection: func(inject bool) (map[string]string, map[string]string) {
			if inject {
				return nil, map[string]string{"linkerd.io/inject": "enabled"}
			}
			return nil, map[string]string{"linkerd.io/inject": "disabled"}
		},
		MTLS: func(mode, ns string) ([]*unstructured.Unstructured, map[string]*string) {
			// Linkerd always encrypts meshed traffic; strict refuses unauthenticated
			// (unmeshed) clients by default.
			policy := "all-unauthenticated"
			if mode == "strict" {
				policy = "all-authenticated"
			}
			return nil, map[string]*string{"config.linkerd.io/default-inbound-policy": ptr(policy)}
		},
	}
}

// controlPlaneValues: the trust anchor and issuer of the Linkerd already installed in
// the namespace when there is one (an upgrade must not rotate the trust anchor under
// running proxies), else new ones.
func controlPlaneValues(ctx context.Context, c *charts.Cluster, op adapter.Operation) (map[string]any, error) {
	ca, err := existing(ctx, c, op.Namespace)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, err = NewCertificates(time.Now()); err != nil {
			return nil, err
		}
	}
	return map[string]any{
		"identityTrustAnchorsPEM": ca.TrustAnchorPEM,
		"identity": map[string]any{"issuer": map[string]any{"tls": map[string]any{
			"crtPEM": ca.IssuerCertPEM, "keyPEM": ca.IssuerKeyPEM}}},
	}, nil
}

// existing reads the certificates of a Linkerd installed in ns (nil when none).
func existing(ctx context.Context, c *charts.Cluster, ns string) (*Certificates, error) {
	if c == nil || ns == "" {
		return nil, nil
	}
	cm, err := c.Core.CoreV1().ConfigMaps(ns).Get(ctx, "linkerd-identity-trust-roots", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Linkerd's trust roots: %w", err)
	}
	sec, err := c.Core.CoreV1().Secrets(ns).Get(ctx, "linkerd-identity-issuer", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Linkerd's issuer: %w", err)
	}
	ca := &Certificates{TrustAnchorPEM: cm.Data["ca-bundle.crt"], IssuerCertPEM: string(sec.Data["crt.pem"]), IssuerKeyPEM: string(sec.Data["key.pem"])}
	if ca.TrustAnchorPEM == "" || ca.IssuerCertPEM == "" || ca.IssuerKeyPEM == "" {
		return nil, nil
	}
	return ca, nil
}

// Certificates are a Linkerd identity trust anchor and the issuer it signed.
type Certificates struct {
	TrustAnchorPEM string
	IssuerCertPEM  string
	IssuerKeyPEM   string
}

// NewCertificates generates a trust anchor (root CA root.linkerd.cluster.local, 10
// years) and an issuer (intermediate CA identity.linkerd.cluster.local, 1 year),
// both ECDSA P-256, as Linkerd's documentation makes them with step.
func NewCertificates(now time.Time) (*Certificates, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "root.linkerd.cluster.local"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
		MaxPathLen: 1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("trust anchor: %w", err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	issKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	iss := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "identity.linkerd.cluster.local"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
		MaxPathLen: 0, MaxPathLenZero: true,
	}
	issDER, err := x509.CreateCertificate(rand.Reader, iss, rootCert, &issKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(issKey)
	if err != nil {
		return nil, err
	}
	return &Certificates{
		TrustAnchorPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})),
		IssuerCertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issDER})),
		IssuerKeyPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
