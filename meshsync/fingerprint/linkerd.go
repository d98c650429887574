package fingerprint

// Linkerd as its CLI and Helm charts install it: destination, identity and
// proxy-injector Deployments on cr.l5d.io/linkerd/controller (each with its own
// linkerd-proxy), CRDs of linkerd.io, the linkerd-proxy-injector webhook; tags are
// release channels (stable-2.14.10, edge-24.11.8), kept as they are.
var _ = register(&meshPrint{
	Type:        "linkerd",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "destination", Kinds: []string{KindDeployment}, Images: []string{"linkerd/controller", "linkerd/policy-controller"},
			Labels: []label{{"linkerd.io/control-plane-component", "destination"}}, NeedLabel: true, Primary: true},
		{Role: "identity", Kinds: []string{KindDeployment}, Images: []string{"linkerd/controller"},
			Labels: []label{{"linkerd.io/control-plane-component", "identity"}}, NeedLabel: true},
		{Role: "proxy-injector", Kinds: []string{KindDeployment}, Images: []string{"linkerd/controller"},
			Labels: []label{{"linkerd.io/control-plane-component", "proxy-injector"}}, NeedLabel: true},
	},
	CRDGroups: []string{"linkerd.io"},
	Webhooks:  []string{"linkerd-proxy-injector", "linkerd-policy-validator", "linkerd-sp-validator"},
	Sidecars: []sidecarPrint{{Names: []string{"linkerd-proxy"}, Images: []string{"linkerd/proxy"},
		VersionKeys: []string{"linkerd.io/proxy-version"}}},
	VersionKeys: []string{"app.kubernetes.io/version", "linkerd.io/control-plane-version", "linkerd.io/proxy-version", "linkerd.io/created-by"},
})
