package kube

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshperf/meshperf/smp"
)

// MaxKubeconfigBytes bounds an uploaded kubeconfig.
const MaxKubeconfigBytes = 1 << 20

// Context is one kubeconfig context, reduced to a kubeconfig holding only it, with its
// credentials inline: what the server stores (sealed) for a connection.
type Context struct {
	Name       string
	Server     string
	Kubeconfig []byte
}

// ParseKubeconfig reads a kubeconfig and returns the contexts named (every context when
// names is empty), each as a minimal self-contained kubeconfig. It refuses what a server
// must not do on a user's behalf: run exec credential plugins or auth providers, and
// read files named in the kubeconfig (the CLI inlines those before uploading). Every
// problem is reported, named by its place in the kubeconfig.
func ParseKubeconfig(data []byte, names []string) ([]Context, error) {
	var errs smp.FieldErrors
	if len(data) == 0 {
		errs.Add("kubeconfig", 0, "empty")
		return nil, errs
	}
	if len(data) > MaxKubeconfigBytes {
		errs.Add("kubeconfig", 0, "larger than %d bytes", MaxKubeconfigBytes)
		return nil, errs
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		errs.Add("kubeconfig", 0, "not a kubeconfig: %s", firstLine(err.Error()))
		return nil, errs
	}
	if len(cfg.Contexts) == 0 {
		errs.Add("kubeconfig.contexts", 0, "no contexts")
		return nil, errs
	}
	if len(names) == 0 {
		for n := range cfg.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out []Context
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		c, ok := contextConfig(cfg, name, &errs)
		if ok {
			out = append(out, c)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func contextConfig(cfg *clientcmdapi.Config, name string, errs *smp.FieldErrors) (Context, bool) {
	at := "contexts[" + name + "]"
	kctx, ok := cfg.Contexts[name]
	if !ok || kctx == nil {
		known := make([]string, 0, len(cfg.Contexts))
		for n := range cfg.Contexts {
			known = append(known, n)
		}
		sort.Strings(known)
		errs.Add("context", 0, "no context %q in the kubeconfig (it has: %s)", name, strings.Join(known, ", "))
		return Context{}, false
	}
	n := len(*errs)
	cl, ok := cfg.Clusters[kctx.Cluster]
	if kctx.Cluster == "" || !ok || cl == nil {
		errs.Add(at+".cluster", 0, "names cluster %q, which the kubeconfig does not define", kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if kctx.AuthInfo == "" || !ok || user == nil {
		errs.Add(at+".user", 0, "names user %q, which the kubeconfig does not define", kctx.AuthInfo)
	}
	if len(*errs) > n {
		return Context{}, false
	}
	cat := "clusters[" + kctx.Cluster + "]"
	u, err := url.Parse(cl.Server)
	switch {
	case cl.Server == "":
		errs.Add(cat+".server", 0, "missing")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		errs.Add(cat+".server", 0, "%q is not an http(s) URL", cl.Server)
	}
	if cl.CertificateAuthority != "" {
		errs.Add(cat+".certificate-authority", 0, "refers to a file; inline it as certificate-authority-data (meshperf cluster add does)")
	}
	if cl.ProxyURL != "" {
		errs.Add(cat+".proxy-url", 0, "proxies are not supported")
	}
	uat := "users[" + kctx.AuthInfo + "]"
	if user.Exec != nil {
		errs.Add(uat+".exec", 0, "credential plugins (%s) would run a command on the server; use a service-account token with least privilege instead", user.Exec.Command)
	}
	if user.AuthProvider != nil {
		errs.Add(uat+".auth-provider", 0, "auth provider %q is not supported; use a service-account token with least privilege instead", user.AuthProvider.Name)
	}
	for field, v := range map[string]string{"client-certificate": user.ClientCertificate, "client-key": user.ClientKey, "tokenFile": user.TokenFile} {
		if v != "" {
			errs.Add(uat+"."+field, 0, "refers to a file; inline it (meshperf cluster add does)")
		}
	}
	if user.Impersonate != "" || len(user.ImpersonateGroups) > 0 {
		errs.Add(uat+".as", 0, "impersonation is not supported")
	}
	if user.Token == "" && len(user.ClientCertificateData) == 0 && user.Username == "" {
		errs.Add(uat, 0, "no credentials: give a token or a client certificate")
	}
	if len(user.ClientCertificateData) > 0 && len(user.ClientKeyData) == 0 {
		errs.Add(uat+".client-key-data", 0, "missing (client-certificate-data is set)")
	}
	if len(*errs) > n {
		return Context{}, false
	}
	min := clientcmdapi.NewConfig()
	min.Clusters[kctx.Cluster] = cl.DeepCopy()
	min.AuthInfos[kctx.AuthInfo] = user.DeepCopy()
	c := kctx.DeepCopy()
	c.Namespace = ""
	min.Contexts[name] = c
	min.CurrentContext = name
	data, err := clientcmd.Write(*min)
	if err != nil {
		errs.Add(at, 0, "cannot write it back: %v", err)
		return Context{}, false
	}
	// What was written must also load into a client, or the connection would fail later.
	if _, err := RESTConfig(data); err != nil {
		errs.Add(at, 0, "%v", err)
		return Context{}, false
	}
	return Context{Name: name, Server: cl.Server, Kubeconfig: data}, true
}

// Inline reads the files a kubeconfig refers to (CA, client certificate and key, token
// file) into it, relative to the kubeconfig's folder, so it can be uploaded. This runs
// on the user's side (the CLI), never on the server.
func Inline(data []byte, path string) ([]byte, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, err
	}
	cfg, err = resolvePaths(cfg, path)
	if err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return nil, err
	}
	for name, u := range cfg.AuthInfos {
		if u.TokenFile != "" {
			b, err := readFile(u.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("users[%s].tokenFile: %w", name, err)
			}
			u.Token, u.TokenFile = strings.TrimSpace(string(b)), ""
		}
	}
	return clientcmd.Write(*cfg)
}

// RESTConfig builds a client configuration from a one-context kubeconfig.
func RESTConfig(kubeconfig []byte) (*rest.Config, error) {
	cc, err := clientcmd.NewClientConfigFromBytes(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %s", firstLine(err.Error()))
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %s", firstLine(err.Error()))
	}
	rc.UserAgent = "meshperf"
	return rc, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
