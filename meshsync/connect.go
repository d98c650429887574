package meshsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/bus"
)

// LoadConfig is the cluster to discover in operator mode: the pod's own service
// account when neither a kubeconfig nor a context is given, else the kubeconfig
// (default loading rules: $KUBECONFIG, ~/.kube/config) at the context named.
func LoadConfig(kubeconfig, context string) (*rest.Config, error) {
	if kubeconfig == "" && context == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("not running in a cluster (%w): give --kubeconfig or --context", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// NATSAuth is how an in-cluster MeshSync proves itself to the broker.
type NATSAuth struct {
	Token     string // a token (user token auth)
	CredsFile string // a NATS credentials file (JWT and seed)
}

// ConnectNATS connects as cluster's MeshSync: its replies (JetStream acks) use the
// only inbox prefix its permissions allow (bus.MeshSyncInbox), and it reconnects for
// ever (events wait in the publisher while the broker is away).
func ConnectNATS(url, cluster string, auth NATSAuth) (*nats.Conn, error) {
	if url == "" {
		return nil, errors.New("a NATS URL is required")
	}
	if auth.Token != "" && auth.CredsFile != "" {
		return nil, errors.New("give a token or a credentials file, not both")
	}
	opts := []nats.Option{nats.Name("meshperf-meshsync-" + cluster), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.CustomInboxPrefix(bus.MeshSyncInbox(cluster))}
	if auth.Token != "" {
		opts = append(opts, nats.Token(auth.Token))
	}
	if auth.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(auth.CredsFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS: %w", err)
	}
	return nc, nil
}
