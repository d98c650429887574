package agentdeploy

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshperf/meshperf/apitypes"
)

// Where an endpoint came from.
const (
	FromOverride             = "override"
	FromLoadBalancerHostname = "loadbalancer-hostname"
	FromLoadBalancerIP       = "loadbalancer-ip"
	FromNodePort             = "nodeport"
	FromClusterIP            = "clusterip"
)

// EndpointInput is what the broker endpoint is computed from.
type EndpointInput struct {
	// Override, when set, is used as is (nats://host:port or host:port).
	Override string
	// Service is the broker's Service in the cluster (nil: none).
	Service *corev1.Service
	// APIServerURL is the cluster's API server; its host serves NodePorts on clusters
	// whose nodes share the API server's address (kind, minikube, single-node clusters).
	APIServerURL string
}

// Endpoint is the NATS URL the agents of a cluster connect to, and how it was chosen.
type Endpoint = apitypes.BrokerEndpoint

// BrokerEndpoint chooses the broker URL agents in a cluster use: the override; else,
// from the broker's Service, a load balancer's hostname, then its IP, then a NodePort on
// the API server's host, then the ClusterIP (reachable only inside the cluster, which
// is where agents run).
func BrokerEndpoint(in EndpointInput) (Endpoint, error) {
	if o := strings.TrimSpace(in.Override); o != "" {
		u, err := normalizeNATS(o)
		if err != nil {
			return Endpoint{}, fmt.Errorf("broker endpoint override %q: %w", o, err)
		}
		return Endpoint{URL: u, Source: FromOverride}, nil
	}
	svc := in.Service
	if svc == nil {
		return Endpoint{}, fmt.Errorf("no broker endpoint: give one explicitly (--broker-endpoint) or expose the broker as a Service")
	}
	port, err := brokerPort(svc)
	if err != nil {
		return Endpoint{}, err
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.Hostname != "" {
				return Endpoint{URL: natsURL(ing.Hostname, port.Port), Source: FromLoadBalancerHostname}, nil
			}
		}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				return Endpoint{URL: natsURL(ing.IP, port.Port), Source: FromLoadBalancerIP}, nil
			}
		}
		// No address assigned yet: a LoadBalancer Service also has node ports.
	}
	if (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) && port.NodePort > 0 {
		u, err := url.Parse(in.APIServerURL)
		if err != nil || u.Hostname() == "" {
			return Endpoint{}, fmt.Errorf("service %s/%s: a NodePort needs the API server's host, and %q has none", svc.Namespace, svc.Name, in.APIServerURL)
		}
		return Endpoint{URL: natsURL(u.Hostname(), port.NodePort), Source: FromNodePort}, nil
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return Endpoint{}, fmt.Errorf("service %s/%s has no address agents can use (no load balancer, node port or cluster IP)", svc.Namespace, svc.Name)
	}
	return Endpoint{URL: natsURL(ip, port.Port), Source: FromClusterIP}, nil
}

// brokerPort is the Service port named "client" or "nats", else its only port.
func brokerPort(svc *corev1.Service) (corev1.ServicePort, error) {
	for _, p := range svc.Spec.Ports {
		if p.Name == "client" || p.Name == "nats" {
			return p, nil
		}
	}
	if len(svc.Spec.Ports) == 1 {
		return svc.Spec.Ports[0], nil
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s/%s: %d ports and none named client or nats", svc.Namespace, svc.Name, len(svc.Spec.Ports))
}

func natsURL(host string, port int32) string {
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func normalizeNATS(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "nats", "tls":
	default:
		return "", fmt.Errorf("scheme %q: want nats:// or tls://", u.Scheme)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return "", fmt.Errorf("want host:port")
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("port %q out of range", u.Port())
	}
	return u.Scheme + "://" + u.Host, nil
}
