// Package kube is meshperf's one way of talking to Kubernetes clusters: kubeconfig
// parsing (refusing what a server must not do for a user) and inlining, REST configs,
// and the probe that identifies a cluster and its nodes. Connections, agent
// deployment, MeshSync and the operator build on it; it knows no server or database.
package kube
