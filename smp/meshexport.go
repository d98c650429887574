package smp

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
)

// meshTypes maps MeshEnv.Type to SMP's enum (Cilium's is CILIUM_SERVICE_MESH).
var meshTypes = map[string]smpspec.ServiceMesh_Type{
	"app_mesh": smpspec.ServiceMesh_APP_MESH, "consul": smpspec.ServiceMesh_CONSUL, "istio": smpspec.ServiceMesh_ISTIO,
	"kuma": smpspec.ServiceMesh_KUMA, "linkerd": smpspec.ServiceMesh_LINKERD, "traefik_mesh": smpspec.ServiceMesh_TRAEFIK_MESH,
	"octarine": smpspec.ServiceMesh_OCTARINE, "network_service_mesh": smpspec.ServiceMesh_NETWORK_SERVICE_MESH,
	"tanzu": smpspec.ServiceMesh_TANZU, "open_service_mesh": smpspec.ServiceMesh_OPEN_SERVICE_MESH,
	"nginx_service_mesh": smpspec.ServiceMesh_NGINX_SERVICE_MESH, "cilium": smpspec.ServiceMesh_CILIUM_SERVICE_MESH,
}

// MeshConfigID is the id of an exported ServiceMeshConfig: the environment's id and
// the mesh's type, so a result's mesh_config_id names it without a store.
func MeshConfigID(envID string, m MeshEnv) string {
	return envID + "-mesh-" + m.Type
}

// ExportMeshConfigs builds one SMP ServiceMeshConfig per mesh found in the run's
// cluster: its type and version (mesh_type, mesh_build), its proxies (sidecar.count
// for sidecar meshes; every mode's count and versions also in labels), the most
// common proxy version (proxy_build) and the control plane's namespace and mode.
func ExportMeshConfigs(e *Environment) []*smpspec.ServiceMeshConfig {
	if e.Kubernetes == nil {
		return nil
	}
	var out []*smpspec.ServiceMeshConfig
	for _, m := range e.Kubernetes.Meshes {
		c := &smpspec.ServiceMeshConfig{
			SmpVersion: SMPVersion,
			Id:         MeshConfigID(e.ID, m),
			Labels:     map[string]string{"proxies": strconv.Itoa(m.Proxies)},
			MeshBuild:  m.Version,
			ProxyBuild: commonest(m.ProxyVersions),
			MeshType:   &smpspec.ServiceMesh{Type: meshTypes[m.Type], Version: m.Version},
		}
		if m.Mode != "" {
			c.Labels["mode"] = m.Mode
		}
		if m.Namespace != "" {
			c.Labels["namespace"] = m.Namespace
		}
		if k := e.Kubernetes; k.Cluster != "" {
			c.Labels["cluster"] = k.Cluster
		}
		if len(m.ProxyVersions) > 0 {
			c.Labels["proxy_versions"] = versionCounts(m.ProxyVersions)
		}
		if m.Mode == "sidecar" || m.Mode == "" {
			c.Sidecar = &smpspec.ServiceMeshConfig_Sidecar{Count: int32(m.Proxies)}
		}
		out = append(out, c)
	}
	return out
}

// commonest is the version most proxies run (the lowest name on a tie).
func commonest(counts map[string]int) string {
	best, n := "", 0
	for v, c := range counts {
		if c > n || (c == n && v < best) {
			best, n = v, c
		}
	}
	return best
}

// versionCounts writes counts as "1.23.1=1,1.24.2=3", sorted by version.
func versionCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for v := range counts {
		keys = append(keys, v)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, v := range keys {
		parts[i] = v + "=" + strconv.Itoa(counts[v])
	}
	return strings.Join(parts, ",")
}

// marshalMeshConfigs writes the configs as YAML documents, one per mesh; the mesh the
// run's metrics describe (config.metrics.mesh, or the one assumed) carries the measured resources.
func marshalMeshConfigs(r *Result) ([]byte, error) {
	var buf bytes.Buffer
	measured := ""
	if r.Config != nil && r.Config.Metrics != nil {
		measured = r.Config.Metrics.Mesh
	}
	if measured == "" && r.Metrics != nil {
		measured = r.Metrics.AssumedMesh
	}
	for i, c := range ExportMeshConfigs(&r.Environment) {
		if measured != "" && c.Id == MeshConfigID(r.Environment.ID, MeshEnv{Type: measured}) {
			ApplyMeshResources(c, r)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := MarshalSMP(c, "yaml")
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
