package fingerprint

// NGINX Service Mesh as nginx-meshctl and its Helm chart install it (namespace
// nginx-mesh by default): nginx-mesh-api and nginx-mesh-metrics Deployments on
// docker-registry.nginx.com/nsm/..., CRDs of nsm.nginx.com and smi.nginx.com,
// nginx-mesh-sidecar containers (with nginx-mesh-init) in injected pods.
var _ = register(&meshPrint{
	Type:        "nginx_service_mesh",
	DefaultMode: "sidecar",
	Components: []componentPrint{
		{Role: "api", Kinds: []string{KindDeployment}, Images: []string{"nsm/nginx-mesh-api", "nginxinc/nginx-mesh-api"},
			Labels: []label{{"app.kubernetes.io/name", "nginx-mesh-api"}, {"app.kubernetes.io/part-of", "nginx-service-mesh"}}, Primary: true},
		{Role: "metrics", Kinds: []string{KindDeployment}, Images: []string{"nsm/nginx-mesh-metrics", "nginxinc/nginx-mesh-metrics"},
			Labels: []label{{"app.kubernetes.io/name", "nginx-mesh-metrics"}, {"app.kubernetes.io/part-of", "nginx-service-mesh"}}},
	},
	CRDGroups:   []string{"nsm.nginx.com", "smi.nginx.com"},
	Webhooks:    []string{"nginx-mesh-sidecar-injector", "nginx-mesh-"},
	Sidecars:    []sidecarPrint{{Names: []string{"nginx-mesh-sidecar"}, Images: []string{"nsm/nginx-mesh-sidecar", "nginxinc/nginx-mesh-sidecar"}}},
	VersionKeys: []string{"app.kubernetes.io/version", "helm.sh/chart"},
})
