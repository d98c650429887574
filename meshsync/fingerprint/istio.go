package fingerprint

// Istio as istioctl and its Helm charts install it: istiod (pilot image) with the
// sidecar injector webhook, or in ambient mode istio-cni and the ztunnel DaemonSet with
// waypoints (proxyv2 Deployments managed by istiod); images on docker.io/istio or
// gcr.io/istio-release, tags like 1.24.2 or 1.24.2-distroless.
var _ = register(&meshPrint{
	Type:        "istio",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "istiod", Kinds: []string{KindDeployment}, Images: []string{"istio/pilot", "istio-release/pilot"},
			Labels: []label{{"app", "istiod"}, {"istio", "pilot"}, {"istio.io/rev", ""}}, Primary: true},
		{Role: "istio-cni", Kinds: []string{KindDaemonSet}, Images: []string{"istio/install-cni", "istio-release/install-cni"},
			Labels: []label{{"k8s-app", "istio-cni-node"}, {"app.kubernetes.io/name", "istio-cni"}}},
		{Role: "ztunnel", Kinds: []string{KindDaemonSet}, Images: []string{"istio/ztunnel", "istio-release/ztunnel"},
			Labels: []label{{"app", "ztunnel"}, {"app.kubernetes.io/name", "ztunnel"}}, Mode: "ambient", NodeProxy: true},
		{Role: "waypoint", Kinds: []string{KindDeployment}, Images: []string{"istio/proxyv2", "istio-release/proxyv2"},
			Labels: []label{{"gateway.istio.io/managed", "istio.io-mesh-controller"}, {"istio.io/waypoint-for", ""}}, NeedLabel: true},
		{Role: "gateway", Kinds: []string{KindDeployment}, Images: []string{"istio/proxyv2", "istio-release/proxyv2"},
			Labels: []label{{"istio", "ingressgateway"}, {"istio", "egressgateway"}}, NeedLabel: true},
	},
	CRDGroups: []string{"istio.io"},
	Webhooks:  []string{"istio-sidecar-injector", "istio-revision-tag-", "istiod-"},
	Sidecars: []sidecarPrint{{Names: []string{"istio-proxy"}, Images: []string{"istio/proxyv2", "istio-release/proxyv2"},
		VersionKeys: []string{"istio.io/rev"}}},
	VersionKeys: []string{"app.kubernetes.io/version", "operator.istio.io/version", "helm.sh/chart", "istio.io/rev"},
})
