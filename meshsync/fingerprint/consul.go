package fingerprint

// Consul as the consul-k8s Helm chart installs it: the consul-server StatefulSet
// (hashicorp/consul, whose tag is the mesh's version), the connect injector Deployment
// (hashicorp/consul-k8s-control-plane) and its webhook, CRDs of consul.hashicorp.com,
// and consul-dataplane sidecars (hashicorp/consul-dataplane).
var _ = register(&meshPrint{
	Type:        "consul",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "server", Kinds: []string{KindStatefulSet}, Images: []string{"hashicorp/consul", "hashicorp/consul-enterprise"},
			Labels: []label{{"component", "server"}, {"app", "consul"}}, Primary: true},
		{Role: "connect-injector", Kinds: []string{KindDeployment}, Images: []string{"hashicorp/consul-k8s-control-plane"},
			Labels: []label{{"component", "connect-injector"}, {"app", "consul"}}},
	},
	CRDGroups: []string{"consul.hashicorp.com"},
	Webhooks:  []string{"consul-connect-injector", "consul-consul-connect-injector"},
	Sidecars: []sidecarPrint{{Names: []string{"consul-dataplane", "consul-connect-envoy-sidecar"},
		Images: []string{"hashicorp/consul-dataplane", "envoyproxy/envoy"}}},
	VersionKeys: []string{"app.kubernetes.io/version"},
})
