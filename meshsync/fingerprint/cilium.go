package fingerprint

// Cilium as its Helm chart installs it: the cilium agent DaemonSet and cilium-operator
// (quay.io/cilium/cilium, quay.io/cilium/operator-generic and cloud variants, usually
// tag@digest), CRDs of cilium.io, and for its service mesh the per-node cilium-envoy
// DaemonSet, whose pods are the data plane's proxies (its tag is Envoy's version).
var _ = register(&meshPrint{
	Type:        "cilium",
	DefaultMode: "node",
	Components: []componentPrint{
		{Role: "agent", Kinds: []string{KindDaemonSet}, Images: []string{"cilium/cilium"},
			Labels: []label{{"k8s-app", "cilium"}, {"app.kubernetes.io/name", "cilium-agent"}}, Primary: true},
		{Role: "operator", Kinds: []string{KindDeployment},
			Images: []string{"cilium/operator-generic", "cilium/operator", "cilium/operator-aws", "cilium/operator-azure", "cilium/operator-alibabacloud"},
			Labels: []label{{"io.cilium/app", "operator"}, {"name", "cilium-operator"}, {"app.kubernetes.io/name", "cilium-operator"}}},
		{Role: "envoy", Kinds: []string{KindDaemonSet}, Images: []string{"cilium/cilium-envoy"},
			Labels: []label{{"k8s-app", "cilium-envoy"}, {"app.kubernetes.io/name", "cilium-envoy"}}, NodeProxy: true},
	},
	CRDGroups:   []string{"cilium.io"},
	VersionKeys: []string{"app.kubernetes.io/version", "helm.sh/chart"},
})
