package fingerprint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MaxTrimmedBytes bounds one trimmed object FromTrimmed reads.
const MaxTrimmedBytes = 4 << 20

type trimmedMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type trimmedContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type trimmedPodSpec struct {
	Containers     []trimmedContainer `json:"containers"`
	InitContainers []trimmedContainer `json:"initContainers"`
}

type trimmedTemplate struct {
	Metadata trimmedMeta    `json:"metadata"`
	Spec     trimmedPodSpec `json:"spec"`
}

type trimmedServicePort struct {
	Name       string          `json:"name"`
	Port       int32           `json:"port"`
	TargetPort json.RawMessage `json:"targetPort"`
}

type trimmedServiceSpec struct {
	Selector  map[string]string    `json:"selector"`
	Ports     []trimmedServicePort `json:"ports"`
	ClusterIP string               `json:"clusterIP"`
}

// FromTrimmed makes an Object from a trimmed object as MeshSync ships it (JSON of the
// Kubernetes object with its metadata) and its group, version and kind. Deployments,
// DaemonSets, StatefulSets and ReplicaSets give their pod template's containers and
// labels; Pods their containers and init containers (native sidecars included);
// Services their selector and ports. A metadata-only object gives its metadata. An
// error names the field that does not read.
func FromTrimmed(group, version, kind string, object []byte) (Object, error) {
	o := Object{Group: group, Version: version, Kind: kind}
	if kind == "" {
		return o, errors.New("kind: missing")
	}
	if len(object) > MaxTrimmedBytes {
		return o, fmt.Errorf("%s: object is %d bytes, more than %d", kind, len(object), MaxTrimmedBytes)
	}
	var doc struct {
		Metadata *trimmedMeta    `json:"metadata"`
		Spec     json.RawMessage `json:"spec"`
	}
	if err := decode(object, &doc); err != nil {
		return o, fmt.Errorf("%s: %w", kind, err)
	}
	if doc.Metadata == nil || doc.Metadata.Name == "" {
		return o, fmt.Errorf("%s: metadata.name: missing", kind)
	}
	md := doc.Metadata
	o.Namespace, o.Name, o.Labels, o.Annotations = md.Namespace, md.Name, md.Labels, md.Annotations
	where := func(err error) error { return fmt.Errorf("%s %s: %w", kind, o.ref(), err) }
	if isNull(doc.Spec) {
		return o, nil
	}
	switch kind {
	case KindDeployment, KindDaemonSet, KindStatefulSet, "ReplicaSet":
		var spec struct {
			Template *trimmedTemplate `json:"template"`
		}
		if err := decode(doc.Spec, &spec); err != nil {
			return o, where(prefix("spec", err))
		}
		if spec.Template != nil {
			o.PodLabels, o.PodAnnotations = spec.Template.Metadata.Labels, spec.Template.Metadata.Annotations
			o.Containers = containers(spec.Template.Spec)
		}
	case KindPod:
		var spec trimmedPodSpec
		if err := decode(doc.Spec, &spec); err != nil {
			return o, where(prefix("spec", err))
		}
		o.PodLabels, o.PodAnnotations = o.Labels, o.Annotations
		o.Containers = containers(spec)
	case KindService:
		var spec trimmedServiceSpec
		if err := decode(doc.Spec, &spec); err != nil {
			return o, where(prefix("spec", err))
		}
		s := &ServiceSpec{Selector: spec.Selector, Headless: spec.ClusterIP == "None"}
		for i, p := range spec.Ports {
			target, err := targetPort(p.TargetPort)
			if err != nil {
				return o, where(fmt.Errorf("spec.ports[%d].targetPort: %w", i, err))
			}
			s.Ports = append(s.Ports, ServicePort{Name: p.Name, Port: p.Port, TargetPort: target})
		}
		o.Service = s
	}
	return o, nil
}

func (o *Object) ref() string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

func containers(spec trimmedPodSpec) []Container {
	var out []Container
	for _, c := range spec.InitContainers {
		out = append(out, Container{Name: c.Name, Image: c.Image, Init: true})
	}
	for _, c := range spec.Containers {
		out = append(out, Container{Name: c.Name, Image: c.Image})
	}
	return out
}

// targetPort reads an int-or-string.
func targetPort(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var n int32
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.Itoa(int(n)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("must be a port number or name")
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// fieldError is a decoding error at a JSON path.
type fieldError struct{ Field, Msg string }

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// decode reads JSON and says which field failed, by its JSON path.
func decode(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return &fieldError{Field: te.Field, Msg: "must be " + jsonType(te.Type.Kind().String()) + ", not " + te.Value}
	case errors.As(err, &se):
		return &fieldError{Msg: fmt.Sprintf("not JSON (byte %d): %v", se.Offset, se)}
	}
	return &fieldError{Msg: "not JSON: " + err.Error()}
}

// prefix puts a parent's path before a field error's.
func prefix(parent string, err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("%s: %w", parent, err)
	}
	if fe.Field == "" {
		return &fieldError{Field: parent, Msg: fe.Msg}
	}
	return &fieldError{Field: parent + "." + fe.Field, Msg: fe.Msg}
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct", "ptr":
		return "an object"
	case "slice":
		return "an array"
	case "int32", "int", "int64":
		return "an integer"
	}
	return "a " + goKind
}
