package fingerprint

// Traefik Mesh (formerly Maesh) as its Helm chart installs it: the controller
// Deployment (traefik/mesh, formerly containous/maesh) and a proxy DaemonSet of plain
// traefik images, one per node, labelled component=maesh-mesh: traefik alone is any
// ingress, so the proxy counts only with that label. It has no sidecars; SMI CRDs
// when SMI mode is on.
var _ = register(&meshPrint{
	Type:        "traefik_mesh",
	DefaultMode: "node",
	Components: []componentPrint{
		{Role: "controller", Kinds: []string{KindDeployment}, Images: []string{"traefik/mesh", "containous/maesh"},
			Labels: []label{{"component", "controller"}, {"app", "maesh"}, {"app", "traefik-mesh"}}, Primary: true},
		{Role: "proxy", Kinds: []string{KindDaemonSet}, Images: []string{"traefik"},
			Labels: []label{{"component", "maesh-mesh"}, {"component", "mesh-node"}}, NeedLabel: true, NodeProxy: true},
	},
	CRDGroups:   []string{"smi-spec.io"},
	VersionKeys: []string{"app.kubernetes.io/version", "helm.sh/chart"},
})
