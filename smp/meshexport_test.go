package smp

import (
	"bytes"
	"strings"
	"testing"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
)

func TestExportMeshConfigs(t *testing.T) {
	r := sampleResult(t)
	r.Environment.ID = "env-1"
	r.Environment.Kubernetes = &KubernetesEnv{Cluster: "lab", ClusterUID: "u", Version: "v1.36.0", Meshes: []MeshEnv{
		{Type: "istio", Mode: "ambient", Version: "1.25.1", Namespace: "istio-system", Proxies: 3, ProxyVersions: map[string]int{"1.25.1": 3}},
		{Type: "linkerd", Mode: "sidecar", Version: "stable-2.14.10", Namespace: "linkerd", Proxies: 4,
			ProxyVersions: map[string]int{"stable-2.14.10": 3, "stable-2.14.9": 1}},
		{Type: "cilium", Mode: "node", Version: "1.16.5"},
	}}
	got := ExportMeshConfigs(&r.Environment)
	if len(got) != 3 {
		t.Fatalf("%d configs, want one per mesh", len(got))
	}
	istio, linkerd, cilium := got[0], got[1], got[2]
	if istio.GetMeshType().GetType() != smpspec.ServiceMesh_ISTIO || istio.GetMeshType().GetVersion() != "1.25.1" || istio.GetMeshBuild() != "1.25.1" ||
		istio.GetSidecar() != nil || istio.GetLabels()["mode"] != "ambient" || istio.GetLabels()["proxies"] != "3" || istio.GetLabels()["cluster"] != "lab" {
		t.Errorf("istio: %v", istio)
	}
	if linkerd.GetMeshType().GetType() != smpspec.ServiceMesh_LINKERD || linkerd.GetSidecar().GetCount() != 4 ||
		linkerd.GetProxyBuild() != "stable-2.14.10" || linkerd.GetLabels()["proxy_versions"] != "stable-2.14.10=3,stable-2.14.9=1" ||
		linkerd.GetLabels()["namespace"] != "linkerd" {
		t.Errorf("linkerd: %v", linkerd)
	}
	if cilium.GetMeshType().GetType() != smpspec.ServiceMesh_CILIUM_SERVICE_MESH {
		t.Errorf("cilium: %v", cilium)
	}
	if res := ExportResult(r); res.GetMeshConfigId() != istio.GetId() || istio.GetId() == linkerd.GetId() {
		t.Errorf("the result's mesh_config_id %q must name the first mesh's config %q (ids %q, %q)", res.GetMeshConfigId(), istio.GetId(), istio.GetId(), linkerd.GetId())
	}

	var buf bytes.Buffer
	if err := WriteResult(&buf, r, FormatSMPMesh); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(buf.String(), "---\n")
	if len(docs) != 3 {
		t.Fatalf("smp-mesh wrote %d documents, want 3:\n%s", len(docs), buf.String())
	}
	var back smpspec.ServiceMeshConfig
	if err := UnmarshalSMP([]byte(docs[1]), &back); err != nil || back.GetMeshType().GetType() != smpspec.ServiceMesh_LINKERD || back.GetSidecar().GetCount() != 4 {
		t.Errorf("the second document does not read back as Linkerd's config: %v %v\n%s", err, &back, docs[1])
	}

	r.Environment.Kubernetes.Meshes = nil
	if res := ExportResult(r); res.GetMeshConfigId() != "" || ExportMeshConfigs(&r.Environment) != nil {
		t.Error("a cluster without a mesh exports no mesh config")
	}
}
