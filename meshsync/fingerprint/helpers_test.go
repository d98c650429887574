package fingerprint

// Builders for tests: objects as the installers lay them out.

func workload(kind, ns, name string, labels map[string]string, images ...string) Object {
	o := Object{Kind: kind, Namespace: ns, Name: name, Labels: labels, PodLabels: labels}
	for i, img := range images {
		o.Containers = append(o.Containers, Container{Name: "c" + itoa(i), Image: img})
	}
	return o
}

func deployment(ns, name string, labels map[string]string, images ...string) Object {
	return workload(KindDeployment, ns, name, labels, images...)
}

func daemonSet(ns, name string, labels map[string]string, images ...string) Object {
	return workload(KindDaemonSet, ns, name, labels, images...)
}

func statefulSet(ns, name string, labels map[string]string, images ...string) Object {
	return workload(KindStatefulSet, ns, name, labels, images...)
}

// pod is an application pod with its containers (name=image pairs).
func pod(ns, name string, labels map[string]string, containers ...Container) Object {
	return Object{Kind: KindPod, Namespace: ns, Name: name, Labels: labels, PodLabels: labels, Containers: containers}
}

func ct(name, image string) Container { return Container{Name: name, Image: image} }

func crds(names ...string) []Object {
	var out []Object
	for _, n := range names {
		out = append(out, Object{Group: "apiextensions.k8s.io", Version: "v1", Kind: KindCRD, Name: n})
	}
	return out
}

func hook(kind, name string) Object {
	return Object{Group: "admissionregistration.k8s.io", Version: "v1", Kind: kind, Name: name}
}

func itoa(n int) string { return string(rune('0' + n)) }

func join(parts ...[]Object) []Object {
	var out []Object
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func objs(o ...Object) []Object { return o }

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
