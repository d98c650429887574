package kube

import (
	"os"
	"path/filepath"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// resolvePaths makes the file references of a kubeconfig absolute, relative to the
// folder of the file it came from (as kubectl does).
func resolvePaths(cfg *clientcmdapi.Config, path string) (*clientcmdapi.Config, error) {
	dir := "."
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		dir = filepath.Dir(abs)
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, c := range cfg.Clusters {
		abs(&c.CertificateAuthority)
	}
	for _, u := range cfg.AuthInfos {
		abs(&u.ClientCertificate)
		abs(&u.ClientKey)
		abs(&u.TokenFile)
	}
	return cfg, nil
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
