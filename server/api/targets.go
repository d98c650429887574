package api

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// TargetPolicy restricts where the server sends load: a load generator is a weapon.
// Entries are CIDRs (10.0.0.0/8), IPs, host names or globs (*.svc.cluster.local). A
// host name that matches no name entry is resolved, and every address must fall in
// an allowed CIDR.
type TargetPolicy struct {
	nets  []*net.IPNet
	names []string
}

// ParseTargetPolicy reads the allowed targets; an empty list allows any target (nil).
func ParseTargetPolicy(entries []string) (*TargetPolicy, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	p := &TargetPolicy{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			_, n, err := net.ParseCIDR(e)
			if err != nil {
				return nil, fmt.Errorf("allowed target %q is not a CIDR", e)
			}
			p.nets = append(p.nets, n)
		case net.ParseIP(e) != nil:
			ip := net.ParseIP(e)
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			p.nets = append(p.nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
		default:
			if _, err := path.Match(e, "x"); err != nil {
				return nil, fmt.Errorf("allowed target %q is not a valid pattern", e)
			}
			p.names = append(p.names, strings.ToLower(e))
		}
	}
	return p, nil
}

// Check returns the endpoints of cfg the policy refuses, named by field.
func (p *TargetPolicy) Check(ctx context.Context, cfg *smp.TestConfig) smp.FieldErrors {
	if p == nil {
		return nil
	}
	var errs smp.FieldErrors
	for i, c := range cfg.Clients {
		for j, ep := range c.EndpointURLs {
			host := endpointHost(c.Protocol, ep)
			if host == "" {
				errs.Add(fmt.Sprintf("clients[%d].endpoint_urls[%d]", i, j), 0, "not a valid endpoint, so it cannot be checked against the allowed targets")
				continue
			}
			if err := p.allow(ctx, host); err != nil {
				errs.Add(fmt.Sprintf("clients[%d].endpoint_urls[%d]", i, j), 0, "%v", err)
			}
		}
	}
	return errs
}

func (p *TargetPolicy) allow(ctx context.Context, host string) error {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip := net.ParseIP(host); ip != nil {
		if p.ipAllowed(ip) {
			return nil
		}
		return fmt.Errorf("target %s is not in the server's allowed targets", host)
	}
	for _, pat := range p.names {
		if ok, _ := path.Match(pat, host); ok {
			return nil
		}
	}
	if len(p.nets) == 0 {
		return fmt.Errorf("target %s is not in the server's allowed targets", host)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("target %s does not resolve, so it cannot be checked against the allowed targets", host)
	}
	for _, a := range addrs {
		if !p.ipAllowed(a.IP) {
			return fmt.Errorf("target %s resolves to %s, outside the server's allowed targets", host, a.IP)
		}
	}
	return nil
}

func (p *TargetPolicy) ipAllowed(ip net.IP) bool {
	for _, n := range p.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// endpointHost is the host an endpoint dials, parsed as the dialers parse it; "" when
// it does not parse.
func endpointHost(proto smp.Protocol, ep string) string {
	if proto == smp.ProtocolHTTP {
		if u, err := url.Parse(ep); err == nil {
			return u.Hostname()
		}
		return ""
	}
	e, err := smp.ParseEndpoint(proto, ep)
	if err != nil {
		return ""
	}
	return e.Host
}
