package fingerprint

// Kuma as kumactl and its Helm chart install it: the kuma-control-plane Deployment
// (docker.io/kumahq/kuma-cp), CRDs of kuma.io, the admission webhooks, and kuma-sidecar
// containers (kumahq/kuma-dp) in injected pods.
var _ = register(&meshPrint{
	Type:        "kuma",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "control-plane", Kinds: []string{KindDeployment}, Images: []string{"kumahq/kuma-cp", "kong/kuma-cp"},
			Labels: []label{{"app", "kuma-control-plane"}, {"app.kubernetes.io/name", "kuma"}}, Primary: true},
	},
	CRDGroups: []string{"kuma.io"},
	Webhooks:  []string{"kuma-admission-mutating-webhook", "kuma-validating-webhook"},
	Sidecars: []sidecarPrint{{Names: []string{"kuma-sidecar"}, Images: []string{"kumahq/kuma-dp", "kong/kuma-dp"},
		VersionKeys: []string{"kuma.io/sidecar-version"}}},
	VersionKeys: []string{"app.kubernetes.io/version", "helm.sh/chart"},
})
