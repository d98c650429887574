package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/internal/k8stest"
)

// labCluster is c1 connected to the lab's server, its discovery scoped to a namespace
// of this test's own (the cluster is shared) holding two ConfigMaps.
type labCluster struct {
	id, ns string
	create func(name, app string)
}

func (l *lab) connectCluster(t *testing.T, merged []byte) *labCluster {
	t.Helper()
	cs := k8stest.Clientset(t, merged, "c1")
	c := &labCluster{ns: k8stest.Namespace("browser-test")}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), c.ns, metav1.DeleteOptions{}) })
	c.create = func(name, app string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.ns, Labels: map[string]string{"app": app}}, Data: map[string]string{"role": app}}
		if _, err := cs.CoreV1().ConfigMaps(c.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c.create("web-config", "web")
	c.create("db-config", "db")
	kc := string(k8stest.Contexts(t, merged, []string{"c1"}, nil))
	added := l.call(t, "POST", "/api/v1/clusters", map[string]any{"kubeconfig": kc, "contexts": []string{"c1"}})
	results, _ := added["results"].([]any)
	if len(results) != 1 {
		t.Fatalf("adding c1: %v", added)
	}
	conn, _ := results[0].(map[string]any)["connection"].(map[string]any)
	if c.id, _ = conn["id"].(string); c.id == "" {
		t.Fatalf("adding c1: %v", added)
	}
	l.call(t, "PUT", "/api/v1/clusters/"+c.id+"/discovery/settings", map[string]any{"scope": map[string]any{
		"include_kinds": []string{"ConfigMap"}, "include_namespaces": []string{c.ns}}})
	return c
}

// TestBrowserClusters opens a real cluster's page: discovery health, meshes, kinds
// counted, the inventory filtered by label (the filter in the address), one object's
// trimmed JSON, and a ConfigMap made meanwhile appearing live over the inventory's
// events; no console errors.
func TestBrowserClusters(t *testing.T) {
	merged := k8stest.Require(t, 1)
	l := startLab(t)
	cluster := l.connectCluster(t, merged)
	ctx, console := startBrowser(t)
	shots := artifacts(t)
	do(t, ctx, chromedp.Navigate(l.url+"/"))
	// once the page has been refused without a token (its 401 clears the token), set one
	waitFor(t, ctx, "the login page", `document.querySelector('#login input[name=token]')`, 10*time.Second)
	eval[bool](t, ctx, `(() => { sessionStorage.setItem('meshperf.token', '`+browserToken+`'); return true })()`)

	// Clusters: c1, its discovery, meshes and inventory; a label filter in the address,
	// an object's trimmed JSON, a change in the cluster appearing live.
	do(t, ctx, chromedp.Navigate(l.url+"/clusters"))
	waitFor(t, ctx, "c1 listed", `document.querySelector('#clusters a.open-cluster')?.textContent === 'c1'`, 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#clusters a.open-cluster`)))
	waitFor(t, ctx, "c1's discovery and meshes", `document.querySelector('#discovery table') && document.querySelector('#meshes')?.innerText.includes('Checked')`, 15*time.Second)
	// the two ConfigMaps made here (and the namespace's kube-root-ca.crt, if published)
	waitFor(t, ctx, "the ConfigMaps counted", `+((document.querySelector('#kind-counts')?.innerText.replace(/\s+/g, ' ') || '').match(/ConfigMap (\d+)/) || [])[1] >= 2`, 30*time.Second)
	do(t, ctx, chromedp.SendKeys(chromedp.CSS(`#inventory-filters input[name=selector]`), "app=web"), chromedp.Click(chromedp.CSS(`#inventory-filters button`)))
	waitFor(t, ctx, "the filtered inventory", `location.search.includes('selector=app%3Dweb') && [...document.querySelectorAll('#inventory a.inventory-object')].map(a => a.textContent).join() === 'web-config'`, 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#inventory a.inventory-object`)))
	waitFor(t, ctx, "the object's trimmed JSON", `document.querySelector('#inventory-object pre')?.textContent.includes('"app": "web"')`, 10*time.Second)
	if discovery := eval[string](t, ctx, `document.querySelector('#discovery').innerText`); !strings.Contains(discovery, "objects") {
		t.Errorf("c1's discovery: %q", discovery)
	}
	cluster.create("web-extra", "web")
	waitFor(t, ctx, "the new ConfigMap, live", `[...document.querySelectorAll('#inventory a.inventory-object')].map(a => a.textContent).sort().join() === 'web-config,web-extra'`, 20*time.Second)
	eval[bool](t, ctx, `(() => { document.querySelector('#cluster-detail').scrollIntoView(); scrollBy(0, -70); return true })()`)
	screenshot(t, ctx, shots, "clusters")

	for _, m := range console() {
		loggedOut := strings.Contains(m.Text, "status of 401") && strings.Contains(m.URL, "/api/v1/whoami") // before the token was set
		if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !loggedOut {
			t.Errorf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		}
	}
}
