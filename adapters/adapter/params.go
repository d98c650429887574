package adapter

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/smp"
)

// Bounds of what an Apply may carry.
const (
	MaxClusters       = 64
	MaxParameters     = 32
	MaxParameterBytes = 4096
	MaxKubeconfig     = 1 << 20
)

var (
	idRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	clusterRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,252}$`)
	namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	versionRE   = regexp.MustCompile(`^v?[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
)

// CheckApply validates an Apply request against the operations offered and returns
// the operation with defaults applied (a parameter's default when absent). Every
// problem is reported, named by its field.
func CheckApply(req *adapterv1.ApplyRequest, offered []*adapterv1.OperationDescriptor) (Operation, *adapterv1.OperationDescriptor, error) {
	var errs smp.FieldErrors
	if !idRE.MatchString(req.GetOperationId()) {
		errs.Add("operation_id", 0, "must be 1-128 characters of [A-Za-z0-9._-], starting with a letter or digit")
	}
	var desc *adapterv1.OperationDescriptor
	for _, d := range offered {
		if d.GetKind() == req.GetKind() {
			desc = d
		}
	}
	if desc == nil {
		errs.Add("kind", 0, "%s is not an operation this adapter offers", req.GetKind())
	}
	if n := len(req.GetClusters()); n == 0 || n > MaxClusters {
		errs.Add("clusters", 0, "need 1 to %d clusters, have %d", MaxClusters, n)
	}
	seen := map[string]bool{}
	for i, c := range req.GetClusters() {
		switch {
		case !clusterRE.MatchString(c.GetName()):
			errs.Add(fmt.Sprintf("clusters[%d].name", i), 0, "must be 1-253 characters of [A-Za-z0-9._@:-]")
		case seen[c.GetName()]:
			errs.Add(fmt.Sprintf("clusters[%d].name", i), 0, "%q appears twice", c.GetName())
		}
		seen[c.GetName()] = true
		if n := len(c.GetKubeconfig()); n == 0 || n > MaxKubeconfig {
			errs.Add(fmt.Sprintf("clusters[%d].kubeconfig", i), 0, "need 1 byte to %d bytes, have %d", MaxKubeconfig, n)
		}
	}
	if ns := req.GetNamespace(); ns != "" && !namespaceRE.MatchString(ns) {
		errs.Add("namespace", 0, "%q is not a Kubernetes namespace name", ns)
	}
	if v := req.GetVersion(); v != "" && !versionRE.MatchString(v) {
		errs.Add("version", 0, "%q is not a version", v)
	}
	params, perrs := CheckParameters(req.GetParameters(), desc)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return Operation{}, nil, errs
	}
	return Operation{ID: req.GetOperationId(), Kind: req.GetKind(), Namespace: req.GetNamespace(),
		Version: req.GetVersion(), Parameters: params}, desc, nil
}

// CheckParameters validates operation parameters (from outside: the server, a user)
// against an operation's descriptor: known names, allowed values, sizes. It returns
// them with the defaults of absent ones.
func CheckParameters(in map[string]string, desc *adapterv1.OperationDescriptor) (map[string]string, smp.FieldErrors) {
	var errs smp.FieldErrors
	if len(in) > MaxParameters {
		errs.Add("parameters", 0, "at most %d parameters, have %d", MaxParameters, len(in))
		return nil, errs
	}
	known := map[string]*adapterv1.ParameterDescriptor{}
	for _, p := range desc.GetParameters() {
		known[p.GetName()] = p
	}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, k := range names {
		v := in[k]
		field := "parameters." + k
		if !utf8.ValidString(k) || len(k) > 64 {
			errs.Add("parameters", 0, "a parameter name is not 1-64 characters of UTF-8")
			continue
		}
		p, ok := known[k]
		if !ok {
			errs.Add(field, 0, "unknown parameter (this operation takes: %s)", strings.Join(paramNames(desc), ", "))
			continue
		}
		if len(v) > MaxParameterBytes || !utf8.ValidString(v) {
			errs.Add(field, 0, "must be UTF-8 of at most %d bytes", MaxParameterBytes)
			continue
		}
		if len(p.GetAllowed()) > 0 && !contains(p.GetAllowed(), v) {
			errs.Add(field, 0, "%q is not one of %s", v, strings.Join(p.GetAllowed(), ", "))
			continue
		}
		out[k] = v
	}
	for _, p := range desc.GetParameters() {
		if _, ok := out[p.GetName()]; !ok && p.GetDefault() != "" {
			out[p.GetName()] = p.GetDefault()
		}
	}
	return out, errs
}

func paramNames(d *adapterv1.OperationDescriptor) []string {
	var s []string
	for _, p := range d.GetParameters() {
		s = append(s, p.GetName())
	}
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
