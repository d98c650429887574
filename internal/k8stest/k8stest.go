// Package k8stest gives tests the real Kubernetes clusters that hack/clusters.sh runs
// (make test and CI bring them up). A test that needs them and finds none fails
// loudly, saying how to start them: it is never skipped.
//
// Packages share the clusters: only the server/connections tests stop and start an API
// server, and only c3's; every test deploys into namespaces of its own.
package k8stest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Dir is where hack/clusters.sh keeps the clusters' state.
func Dir() string {
	if d := os.Getenv("MESHPERF_CLUSTERS_DIR"); d != "" {
		return d
	}
	return "/tmp/meshperf-clusters"
}

// Require fails the test unless at least n clusters are up, and returns the merged
// kubeconfig (contexts c1..cN).
func Require(t testing.TB, n int) []byte {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(Dir(), "count"))
	have, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	kc, err := os.ReadFile(filepath.Join(Dir(), "kubeconfig"))
	if err != nil || have < n {
		t.Fatalf("this test needs %d real Kubernetes clusters and finds %d in %s: run `hack/clusters.sh up %d` (make test does)", n, have, Dir(), n)
	}
	return kc
}

// Contexts returns a kubeconfig holding only the named contexts of the merged one,
// plus extra contexts copied from existing ones under new names (new name -> existing).
func Contexts(t testing.TB, merged []byte, names []string, aliases map[string]string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(merged)
	if err != nil {
		t.Fatal(err)
	}
	out := clientcmdapi.NewConfig()
	add := func(as, from string) {
		c, ok := cfg.Contexts[from]
		if !ok {
			t.Fatalf("no context %s in the test clusters' kubeconfig", from)
		}
		out.Contexts[as] = c.DeepCopy()
		out.Clusters[c.Cluster] = cfg.Clusters[c.Cluster].DeepCopy()
		out.AuthInfos[c.AuthInfo] = cfg.AuthInfos[c.AuthInfo].DeepCopy()
	}
	for _, n := range names {
		add(n, n)
	}
	for as, from := range aliases {
		add(as, from)
	}
	b, err := clientcmd.Write(*out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RESTConfig is an admin REST config of context name (c1, c2, ...).
func RESTConfig(t testing.TB, merged []byte, name string) *rest.Config {
	t.Helper()
	cc, err := clientcmd.NewClientConfigFromBytes(merged)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cc.RawConfig()
	rc, err := clientcmd.NewDefaultClientConfig(raw, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// Clientset is an admin client of context name (c1, c2, ...).
func Clientset(t testing.TB, merged []byte, name string) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(RESTConfig(t, merged, name))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// StopAPIServer stops cluster i's API server; the test's cleanup starts it again.
func StopAPIServer(t testing.TB, i int) {
	t.Helper()
	script(t, "stop-apiserver", strconv.Itoa(i))
	t.Cleanup(func() { script(t, "start-apiserver", strconv.Itoa(i)) })
}

// StartAPIServer starts cluster i's API server again and waits until it is ready.
func StartAPIServer(t testing.TB, i int) {
	t.Helper()
	script(t, "start-apiserver", strconv.Itoa(i))
}

func script(t testing.TB, args ...string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command(filepath.Join(root, "hack", "clusters.sh"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("hack/clusters.sh %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// Namespace is a fresh namespace name for one test.
func Namespace(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
