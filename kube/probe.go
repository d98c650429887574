package kube

import (
	"context"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/smp"
)

// ProbeTimeout bounds one health check of a cluster.
const ProbeTimeout = 5 * time.Second

// Node is one node of a cluster's inventory.
type Node struct {
	Name           string `json:"name"`
	InstanceType   string `json:"instance_type,omitempty"`
	Cores          int32  `json:"cores"`
	MemoryMB       int64  `json:"memory_mb"`
	KubeletVersion string `json:"kubelet_version,omitempty"`
	Ready          bool   `json:"ready"`
}

// ClusterInfo is what a probe learns of a cluster.
type ClusterInfo struct {
	UID     string // of the kube-system namespace: the cluster's identity
	Version string // the API server's git version
	Nodes   []Node
}

// Probe asks the API server for the cluster's identity, version and nodes.
func Probe(ctx context.Context, rc *rest.Config) (*ClusterInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	rc = rest.CopyConfig(rc)
	rc.Timeout = ProbeTimeout
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading namespace kube-system (the cluster's identity): %w", err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reading the server version: %w", err)
	}
	info := &ClusterInfo{UID: string(ns.UID), Version: v.GitVersion}
	// ResourceVersion "0" is served from the API server's cache: a health check of a
	// large cluster every 30 s must not cost etcd a full read.
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes.Items {
		node := Node{Name: n.Name, InstanceType: n.Labels["node.kubernetes.io/instance-type"], KubeletVersion: n.Status.NodeInfo.KubeletVersion}
		if q, ok := n.Status.Capacity["cpu"]; ok {
			node.Cores = int32(q.Value())
		}
		if q, ok := n.Status.Capacity["memory"]; ok {
			node.MemoryMB = q.Value() >> 20
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				node.Ready = true
			}
		}
		info.Nodes = append(info.Nodes, node)
	}
	sort.Slice(info.Nodes, func(i, j int) bool { return info.Nodes[i].Name < info.Nodes[j].Name })
	return info, nil
}

// Environment is the SMP environment of a cluster: its version and, per node, type,
// cores and memory.
func Environment(name, uid, version string, nodes []Node) *smp.KubernetesEnv {
	env := &smp.KubernetesEnv{Cluster: name, ClusterUID: uid, Version: version}
	for _, n := range nodes {
		typ := n.InstanceType
		if typ == "" {
			typ = n.Name
		}
		env.Nodes = append(env.Nodes, smp.NodeEnv{Type: typ, Cores: n.Cores, MemMB: n.MemoryMB})
	}
	return env
}
