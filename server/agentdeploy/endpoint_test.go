package agentdeploy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(typ corev1.ServiceType, clusterIP string, ports []corev1.ServicePort, ingress ...corev1.LoadBalancerIngress) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "meshperf-broker", Namespace: "meshperf"},
		Spec:       corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports},
		Status:     corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: ingress}},
	}
}

func TestBrokerEndpoint(t *testing.T) {
	client := []corev1.ServicePort{{Name: "monitor", Port: 8222, NodePort: 30822}, {Name: "client", Port: 4222, NodePort: 30422}}
	api := "https://203.0.113.7:6443"
	cases := []struct {
		name       string
		in         EndpointInput
		url, from  string
		errContain string
	}{
		{"override wins over a service", EndpointInput{Override: "nats://broker.example.com:4222",
			Service: svc(corev1.ServiceTypeLoadBalancer, "10.96.0.9", client, corev1.LoadBalancerIngress{Hostname: "lb.example.com"})},
			"nats://broker.example.com:4222", FromOverride, ""},
		{"override without a scheme", EndpointInput{Override: "10.1.2.3:4222"}, "nats://10.1.2.3:4222", FromOverride, ""},
		{"override tls", EndpointInput{Override: "tls://b.example.com:443"}, "tls://b.example.com:443", FromOverride, ""},
		{"override bad scheme", EndpointInput{Override: "http://b:80"}, "", "", "scheme"},
		{"override without port", EndpointInput{Override: "nats://b"}, "", "", "host:port"},
		{"load balancer hostname before its IP", EndpointInput{Service: svc(corev1.ServiceTypeLoadBalancer, "10.96.0.9", client,
			corev1.LoadBalancerIngress{IP: "198.51.100.4"}, corev1.LoadBalancerIngress{Hostname: "lb.example.com"}), APIServerURL: api},
			"nats://lb.example.com:4222", FromLoadBalancerHostname, ""},
		{"load balancer IP", EndpointInput{Service: svc(corev1.ServiceTypeLoadBalancer, "10.96.0.9", client,
			corev1.LoadBalancerIngress{IP: "198.51.100.4"}), APIServerURL: api},
			"nats://198.51.100.4:4222", FromLoadBalancerIP, ""},
		{"IPv6 load balancer", EndpointInput{Service: svc(corev1.ServiceTypeLoadBalancer, "", client,
			corev1.LoadBalancerIngress{IP: "2001:db8::4"})}, "nats://[2001:db8::4]:4222", FromLoadBalancerIP, ""},
		{"pending load balancer falls back to its node port", EndpointInput{Service: svc(corev1.ServiceTypeLoadBalancer, "10.96.0.9", client), APIServerURL: api},
			"nats://203.0.113.7:30422", FromNodePort, ""},
		{"node port on the API server's host", EndpointInput{Service: svc(corev1.ServiceTypeNodePort, "10.96.0.9", client), APIServerURL: api},
			"nats://203.0.113.7:30422", FromNodePort, ""},
		{"node port needs the API host", EndpointInput{Service: svc(corev1.ServiceTypeNodePort, "10.96.0.9", client), APIServerURL: ""},
			"", "", "API server"},
		{"cluster IP", EndpointInput{Service: svc(corev1.ServiceTypeClusterIP, "10.96.0.9", client), APIServerURL: api},
			"nats://10.96.0.9:4222", FromClusterIP, ""},
		{"the only port, whatever its name", EndpointInput{Service: svc(corev1.ServiceTypeClusterIP, "10.96.0.9", []corev1.ServicePort{{Name: "x", Port: 7422}})},
			"nats://10.96.0.9:7422", FromClusterIP, ""},
		{"headless service", EndpointInput{Service: svc(corev1.ServiceTypeClusterIP, corev1.ClusterIPNone, client)}, "", "", "no address"},
		{"ports without a name to choose by", EndpointInput{Service: svc(corev1.ServiceTypeClusterIP, "10.96.0.9",
			[]corev1.ServicePort{{Name: "a", Port: 1}, {Name: "b", Port: 2}})}, "", "", "none named client"},
		{"nothing to go on", EndpointInput{APIServerURL: api}, "", "", "--broker-endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BrokerEndpoint(c.in)
			if c.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), c.errContain) {
					t.Fatalf("want an error with %q, got %v (%+v)", c.errContain, err, got)
				}
				return
			}
			if err != nil || got.URL != c.url || got.Source != c.from {
				t.Fatalf("got %+v %v, want %s from %s", got, err, c.url, c.from)
			}
		})
	}
}
