// Package connections keeps the server's connections to Kubernetes clusters: kubeconfig
// contexts become connections, each cluster known once by the UID of its kube-system
// namespace, with a small explicit state machine, periodic and on-demand health checks,
// credentials sealed at rest, and the cluster inventory a result's environment records.
package connections
