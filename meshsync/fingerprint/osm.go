package fingerprint

// Open Service Mesh as osm install and its Helm chart lay it out: osm-controller,
// osm-injector and osm-bootstrap Deployments (openservicemesh/osm-*), CRDs of
// openservicemesh.io, the osm-webhook-<mesh> webhook, and Envoy sidecars named envoy
// (envoyproxy/envoy, counted only in pods OSM labels osm-proxy-uuid).
var _ = register(&meshPrint{
	Type:        "open_service_mesh",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "controller", Kinds: []string{KindDeployment}, Images: []string{"openservicemesh/osm-controller"},
			Labels: []label{{"app", "osm-controller"}, {"app.kubernetes.io/name", "openservicemesh.io"}}, Primary: true},
		{Role: "injector", Kinds: []string{KindDeployment}, Images: []string{"openservicemesh/osm-injector"},
			Labels: []label{{"app", "osm-injector"}, {"app.kubernetes.io/name", "openservicemesh.io"}}},
		{Role: "bootstrap", Kinds: []string{KindDeployment}, Images: []string{"openservicemesh/osm-bootstrap"},
			Labels: []label{{"app", "osm-bootstrap"}, {"app.kubernetes.io/name", "openservicemesh.io"}}},
	},
	CRDGroups: []string{"openservicemesh.io"},
	Webhooks:  []string{"osm-webhook-", "osm-validator-mesh-"},
	Sidecars: []sidecarPrint{{Names: []string{"envoy"}, Images: []string{"envoyproxy/envoy", "envoyproxy/envoy-distroless", "envoyproxy/envoy-alpine"},
		PodLabel: "osm-proxy-uuid"}},
	VersionKeys: []string{"app.kubernetes.io/version", "helm.sh/chart"},
})
