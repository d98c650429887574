package k8stest

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// One returns a kubeconfig holding only context name of the merged one, as its
// current context; with server set, pointing at that URL instead of the cluster's.
func One(t testing.TB, merged []byte, name, server string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(Contexts(t, merged, []string{name}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.CurrentContext = name
	if server != "" {
		cfg.Clusters[cfg.Contexts[name].Cluster].Server = server
	}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DownServer returns the URL of a TCP proxy in front of cluster name's API server,
// already closed: whoever is given a kubeconfig with it (One) finds the API server
// down (connection refused), while the shared API server keeps serving every other
// test. Tests of a lost cluster use it instead of stopping a shared API server.
func DownServer(t testing.TB, merged []byte, name string) string {
	t.Helper()
	cfg, err := clientcmd.Load(merged)
	if err != nil {
		t.Fatal(err)
	}
	ctx, ok := cfg.Contexts[name]
	if !ok {
		t.Fatalf("no context %s", name)
	}
	u, err := url.Parse(cfg.Clusters[ctx.Cluster].Server)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	addr := "https://" + lis.Addr().String()
	lis.Close() // from now on the "API server" at addr is down
	wg.Wait()
	return addr
}

// DeleteClusterScoped deletes the CRDs and cluster roles carrying labels (a selector
// such as meshperf.io/mesh=istio): a test's cleanup, whatever the test left behind
// when it failed half-way.
func DeleteClusterScoped(t testing.TB, cs kubernetes.Interface, selector string) {
	t.Helper()
	ctx := context.Background()
	_ = cs.Discovery().RESTClient().Delete().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").
		Param("labelSelector", selector).Do(ctx).Error()
	_ = cs.RbacV1().ClusterRoles().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector})
	_ = cs.RbacV1().ClusterRoleBindings().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector})
}
