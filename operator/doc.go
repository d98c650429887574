// Package operator is `meshperf operator` and `meshperf broker`, what runs in a
// cluster in operator mode: controller-runtime reconcilers for the Broker and MeshSync
// resources (meshperf.io/v1alpha1, see operator/api/v1alpha1), and the in-cluster
// broker, a NATS server for the cluster's MeshSync that connects out to the meshperf
// server's broker as a leaf node (the cluster needs no inbound port).
//
// The reconcilers are functions of observed state: each pass reads the resource and
// what exists, applies what should (server-side apply, kube's field manager) and
// writes status. A spec that cannot be acted on is a terminal error: a SpecValid=False
// condition naming the field, and no retry until the spec changes. The operator never
// imports server.
package operator
