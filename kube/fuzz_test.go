package kube

import (
	"errors"
	"testing"

	"github.com/meshperf/meshperf/smp"
)

// ParseKubeconfig takes whatever an admin uploads: it must never panic, and what it
// refuses it refuses with field errors.
func FuzzParseKubeconfig(f *testing.F) {
	f.Add([]byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "LS0tLS1CRUdJTg=="}
users:
- name: u
  user: {token: abc}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: ns}
current-context: ctx
`), "")
	f.Add([]byte(`{"kind":"Config","apiVersion":"v1","contexts":[{"name":"a","context":{"cluster":"x","user":"y"}}]}`), "a")
	f.Add([]byte("users:\n- name: u\n  user:\n    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}\n"), "b")
	f.Add([]byte("&a [*a, *a, *a]"), "")
	f.Fuzz(func(t *testing.T, data []byte, context string) {
		var names []string
		if context != "" {
			names = []string{context}
		}
		got, err := ParseKubeconfig(data, names)
		if err != nil {
			var fe smp.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("an error that names no field: %v", err)
			}
			return
		}
		for _, c := range got {
			if _, err := RESTConfig(c.Kubeconfig); err != nil {
				t.Fatalf("accepted context %q does not load: %v", c.Name, err)
			}
		}
	})
}
