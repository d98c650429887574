// Package chartstest serves Helm chart repositories on loopback for tests, with charts
// laid out like Istio's and Linkerd's official ones: their CRDs, their control-plane
// Deployments with the real image names and tags (docker.io/istio/pilot:1.24.2,
// cr.l5d.io/linkerd/controller:stable-2.14.10), the values the real charts require
// (Linkerd's trust anchor and issuer). They are smaller than the real charts (no
// webhooks that would call a control plane that kwok never runs), which is all the
// adapters' tests need: kwok makes the pods Running, MeshSync's fingerprint names the
// mesh and its version from the images.
package chartstest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Chart is one chart version: its files by path inside the chart.
type Chart struct {
	Name, Version, AppVersion string
	Files                     map[string]string
}

// Tgz packs the chart as `helm package` does.
func (c Chart) Tgz() []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := map[string]string{"Chart.yaml": fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\nappVersion: %q\ntype: application\n", c.Name, c.Version, c.AppVersion)}
	for k, v := range c.Files {
		files[k] = v
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := []byte(files[n])
		_ = tw.WriteHeader(&tar.Header{Name: c.Name + "/" + n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// Repo is a served repository.
type Repo struct {
	*httptest.Server
	// Gets counts chart downloads.
	Gets atomic.Int64

	mu      sync.Mutex
	gate    chan struct{}
	waiting atomic.Int64
}

// Hold makes chart downloads wait until Release: an operation stays in flight for
// as long as a test needs (to restart the adapter or the server under it).
func (r *Repo) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate == nil {
		r.gate = make(chan struct{})
	}
}

// Release lets held and later downloads through.
func (r *Repo) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
}

// Waiting reports how many downloads are held.
func (r *Repo) Waiting() int64 { return r.waiting.Load() }

// Serve serves charts as a repository (index.yaml with digests and relative URLs)
// until the test ends.
func Serve(t testing.TB, charts ...Chart) *Repo {
	t.Helper()
	files := map[string][]byte{}
	var idx strings.Builder
	idx.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]Chart{}
	var names []string
	for _, c := range charts {
		if byName[c.Name] == nil {
			names = append(names, c.Name)
		}
		byName[c.Name] = append(byName[c.Name], c)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&idx, "  %s:\n", n)
		for _, c := range byName[n] {
			tgz := c.Tgz()
			file := fmt.Sprintf("%s-%s.tgz", c.Name, c.Version)
			files["/"+file] = tgz
			sum := sha256.Sum256(tgz)
			fmt.Fprintf(&idx, "  - name: %s\n    version: %s\n    appVersion: %q\n    urls: [%s]\n    digest: %s\n    created: \"2026-11-01T00:00:00Z\"\n",
				c.Name, c.Version, c.AppVersion, file, hex.EncodeToString(sum[:]))
		}
	}
	files["/index.yaml"] = []byte(idx.String())
	r := &Repo{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, ok := files[req.URL.Path]
		if !ok {
			http.NotFound(w, req)
			return
		}
		if strings.HasSuffix(req.URL.Path, ".tgz") {
			r.Gets.Add(1)
			r.mu.Lock()
			gate := r.gate
			r.mu.Unlock()
			if gate != nil {
				r.waiting.Add(1)
				select {
				case <-gate:
				case <-req.Context().Done():
				}
				r.waiting.Add(-1)
			}
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(func() { r.Release(); r.Close() })
	return r
}

// Istio returns Istio's base and istiod charts at a version (1.24.2), laid out like
// the official ones: CRDs in base's templates, istiod's Deployment on
// docker.io/istio/pilot:<version> with its labels, Service, ConfigMap, accounts.
func Istio(version string) []Chart {
	crd := func(group, plural, kind string, versions ...string) string {
		var vs strings.Builder
		for i, v := range versions {
			fmt.Fprintf(&vs, "  - name: %s\n    served: true\n    storage: %v\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n", v, i == len(versions)-1)
		}
		return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[2]s.%[1]s
  labels:
    app: istio-pilot
    chart: istio
    heritage: Tiller
    release: istio
spec:
  group: %[1]s
  names:
    kind: %[3]s
    listKind: %[3]sList
    plural: %[2]s
    singular: %[4]s
  scope: Namespaced
  versions:
%[5]s---
`, group, plural, kind, strings.ToLower(kind), vs.String())
	}
	crds := crd("networking.istio.io", "virtualservices", "VirtualService", "v1beta1", "v1") +
		crd("networking.istio.io", "destinationrules", "DestinationRule", "v1beta1", "v1") +
		crd("security.istio.io", "peerauthentications", "PeerAuthentication", "v1beta1", "v1") +
		crd("security.istio.io", "authorizationpolicies", "AuthorizationPolicy", "v1beta1", "v1")
	base := Chart{Name: "base", Version: version, AppVersion: version, Files: map[string]string{
		"values.yaml":         "global:\n  istioNamespace: istio-system\n",
		"templates/crds.yaml": "{{- if .Values.base.enableCRDTemplates | default true }}\n" + crds + "{{- end }}\n",
		"templates/reader-serviceaccount.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-reader-service-account
  namespace: {{ .Values.global.istioNamespace }}
  labels:
    app: istio-reader
    release: {{ .Release.Name }}
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
`,
		"templates/NOTES.txt": "Istio base successfully installed!\n",
	}}
	base.Files["values.yaml"] = "base:\n  enableCRDTemplates: true\nglobal:\n  istioNamespace: istio-system\n"
	istiod := Chart{Name: "istiod", Version: version, AppVersion: version, Files: map[string]string{
		"values.yaml": `pilot:
  replicaCount: 1
  image: pilot
revision: ""
global:
  hub: docker.io/istio
  tag: ""
  istioNamespace: istio-system
`,
		"templates/_helpers.tpl": `{{- define "istiod.labels" -}}
app: istiod
istio.io/rev: {{ .Values.revision | default "default" }}
install.operator.istio.io/owning-resource: unknown
operator.istio.io/component: "Pilot"
istio: pilot
release: {{ .Release.Name }}
app.kubernetes.io/name: istiod
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: istiod-{{ .Chart.Version }}
{{- end }}
`,
		"templates/serviceaccount.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: istiod\n  namespace: {{ .Release.Namespace }}\n  labels:\n{{ include \"istiod.labels\" . | indent 4 }}\n",
		"templates/configmap.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: {{ .Release.Namespace }}\n  labels:\n{{ include \"istiod.labels\" . | indent 4 }}\ndata:\n  mesh: |-\n    defaultConfig:\n      discoveryAddress: istiod.{{ .Release.Namespace }}.svc:15012\n    rootNamespace: {{ .Release.Namespace }}\n",
		"templates/clusterrole.yaml":    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: istiod-clusterrole-{{ .Release.Namespace }}\n  labels:\n{{ include \"istiod.labels\" . | indent 4 }}\nrules:\n- apiGroups: [\"networking.istio.io\", \"security.istio.io\"]\n  resources: [\"*\"]\n  verbs: [\"get\", \"watch\", \"list\"]\n",
		"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: istiod
  namespace: {{ .Release.Namespace }}
  labels:
{{ include "istiod.labels" . | indent 4 }}
spec:
  ports:
  - {port: 15010, name: grpc-xds, protocol: TCP}
  - {port: 15012, name: https-dns, protocol: TCP}
  - {port: 443, name: https-webhook, targetPort: 15017, protocol: TCP}
  - {port: 15014, name: http-monitoring, protocol: TCP}
  selector:
    app: istiod
    istio: pilot
`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod
  namespace: {{ .Release.Namespace }}
  labels:
{{ include "istiod.labels" . | indent 4 }}
spec:
  replicas: {{ .Values.pilot.replicaCount }}
  selector:
    matchLabels:
      istio: pilot
  template:
    metadata:
      labels:
{{ include "istiod.labels" . | indent 8 }}
        sidecar.istio.io/inject: "false"
    spec:
      serviceAccountName: istiod
      containers:
      - name: discovery
        image: "{{ .Values.global.hub }}/{{ .Values.pilot.image }}:{{ .Values.global.tag | default .Chart.AppVersion }}"
        args: ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"]
        ports:
        - {containerPort: 8080, protocol: TCP, name: http-debug}
        - {containerPort: 15010, protocol: TCP, name: grpc-xds}
        - {containerPort: 15012, protocol: TCP, name: tls-xds}
        - {containerPort: 15017, protocol: TCP, name: https-webhooks}
        - {containerPort: 15014, protocol: TCP, name: http-monitoring}
`,
		"templates/tests/test-connection.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: istiod-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers: [{name: t, image: busybox}]\n",
	}}
	return []Chart{base, istiod}
}

// Linkerd returns Linkerd's linkerd-crds and linkerd-control-plane charts: chart
// version (1.16.11) and app version (stable-2.14.10) as the official stable ones.
// The control plane requires the trust anchor and issuer values as the real one does.
func Linkerd(version, appVersion string) []Chart {
	crd := func(group, plural, kind string) string {
		return fmt.Sprintf(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[2]s.%[1]s
  labels:
    helm.sh/chart: linkerd-crds-{{ .Chart.Version }}
    linkerd.io/control-plane-ns: {{ .Release.Namespace }}
spec:
  group: %[1]s
  names: {kind: %[3]s, plural: %[2]s, singular: %[4]s}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group, plural, kind, strings.ToLower(kind))
	}
	crds := Chart{Name: "linkerd-crds", Version: version, AppVersion: appVersion, Files: map[string]string{
		"values.yaml":                                  "enableHttpRoutes: true\n",
		"templates/policy/server.yaml":                 crd("policy.linkerd.io", "servers", "Server"),
		"templates/policy/authorization-policy.yaml":   crd("policy.linkerd.io", "authorizationpolicies", "AuthorizationPolicy"),
		"templates/serviceprofile.yaml":                crd("linkerd.io", "serviceprofiles", "ServiceProfile"),
		"templates/policy/meshtls-authentication.yaml": crd("policy.linkerd.io", "meshtlsauthentications", "MeshTLSAuthentication"),
	}}
	component := func(name string) string {
		return fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: linkerd-%[1]s
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: %[1]s
    app.kubernetes.io/part-of: Linkerd
    app.kubernetes.io/version: {{ .Values.linkerdVersion | default .Chart.AppVersion }}
    linkerd.io/control-plane-component: %[1]s
    linkerd.io/control-plane-ns: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.controllerReplicas }}
  selector:
    matchLabels:
      linkerd.io/control-plane-component: %[1]s
      linkerd.io/control-plane-ns: {{ .Release.Namespace }}
  template:
    metadata:
      annotations:
        linkerd.io/created-by: linkerd/helm {{ .Values.linkerdVersion | default .Chart.AppVersion }}
        linkerd.io/proxy-version: {{ .Values.linkerdVersion | default .Chart.AppVersion }}
      labels:
        linkerd.io/control-plane-component: %[1]s
        linkerd.io/control-plane-ns: {{ .Release.Namespace }}
        linkerd.io/proxy-deployment: linkerd-%[1]s
    spec:
      serviceAccountName: linkerd-%[1]s
      containers:
      - name: %[1]s
        image: {{ .Values.controllerImage }}:{{ .Values.linkerdVersion | default .Chart.AppVersion }}
        args: ["%[1]s", "-log-level={{ .Values.controllerLogLevel }}"]
      - name: linkerd-proxy
        image: {{ .Values.proxy.image.name }}:{{ .Values.linkerdVersion | default .Chart.AppVersion }}
        env:
        - {name: LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS, value: {{ required "Please provide the identity trust anchors" .Values.identityTrustAnchorsPEM | quote }}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: linkerd-%[1]s
  namespace: {{ .Release.Namespace }}
  labels:
    linkerd.io/control-plane-component: %[1]s
    linkerd.io/control-plane-ns: {{ .Release.Namespace }}
`, name)
	}
	cp := Chart{Name: "linkerd-control-plane", Version: version, AppVersion: appVersion, Files: map[string]string{
		"values.yaml": `controllerImage: cr.l5d.io/linkerd/controller
controllerReplicas: 1
controllerLogLevel: info
linkerdVersion: ""
identityTrustAnchorsPEM: ""
identityTrustDomain: cluster.local
identity:
  issuer:
    tls:
      crtPEM: ""
      keyPEM: ""
proxy:
  image:
    name: cr.l5d.io/linkerd/proxy
`,
		"templates/identity.yaml": `---
apiVersion: v1
kind: Secret
metadata:
  name: linkerd-identity-issuer
  namespace: {{ .Release.Namespace }}
  labels:
    linkerd.io/control-plane-component: identity
    linkerd.io/control-plane-ns: {{ .Release.Namespace }}
data:
  crt.pem: {{ required "Please provide the identity issuer certificate" .Values.identity.issuer.tls.crtPEM | b64enc }}
  key.pem: {{ required "Please provide the identity issue private key" .Values.identity.issuer.tls.keyPEM | b64enc }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: linkerd-identity-trust-roots
  namespace: {{ .Release.Namespace }}
data:
  ca-bundle.crt: |-
{{ .Values.identityTrustAnchorsPEM | trim | indent 4 }}
` + component("identity"),
		"templates/destination.yaml":     component("destination"),
		"templates/proxy-injector.yaml":  component("proxy-injector"),
		"templates/destination-svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: linkerd-dst\n  namespace: {{ .Release.Namespace }}\n  labels:\n    linkerd.io/control-plane-component: destination\nspec:\n  selector:\n    linkerd.io/control-plane-component: destination\n  ports:\n  - {name: grpc, port: 8086, targetPort: 8086}\n",
	}}
	return []Chart{crds, cp}
}
