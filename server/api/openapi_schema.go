package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"

	"github.com/meshperf/meshperf/smp"
)

// The served document is openapi.json (paths, and the API's own bodies written by
// hand) with the schemas of meshperf's data model — a test config, a result and
// every part of them — derived from the smp Go types, so a client
// generated from it knows every field, enum and unit, and the two cannot drift. It is
// built on the first request, not at start-up: every meshperf command links this
// package, and reflecting the model costs ~16 ms and 2 MB that a CLI call or an agent
// should not pay.
var openAPI = sync.OnceValue(func() []byte { return mustBuildOpenAPI(openAPIBase) })

// smpComments are the smp package's doc comments by type and field, the fields'
// descriptions in the document (units included). A test regenerates them from the
// source and fails when the committed copy is stale (go test ./server/api -run
// TestOpenAPIComments -update).
//
//go:embed openapi_comments.json
var smpComments []byte

// modelSchemas are the document's schemas that come from Go types, by name.
var modelSchemas = map[string]any{
	"TestConfig": smp.TestConfig{},
	"Result":     smp.Result{},
	"Overrides":  smp.Overrides{},
}

func mustBuildOpenAPI(base []byte) []byte {
	doc, err := buildOpenAPI(base)
	if err != nil {
		// The inputs are compiled in: TestOpenAPIModelSchemas fails long before a
		// binary with a broken document could ship.
		panic("openapi: " + err.Error())
	}
	return doc
}

// buildOpenAPI puts the model's schemas into the document's components. A name the
// hand-written part already uses for something else is an error.
func buildOpenAPI(base []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if schemas == nil {
		return nil, fmt.Errorf("openapi.json has no components.schemas")
	}
	generated, err := reflectModel()
	if err != nil {
		return nil, err
	}
	for name, s := range generated {
		// The roots replace openapi.json's placeholders; any other name taken twice
		// would silently describe the wrong body.
		if _, root := modelSchemas[name]; !root && schemas[name] != nil {
			return nil, fmt.Errorf("schema %s is both written in openapi.json and derived from Go: rename one", name)
		}
		schemas[name] = s
	}
	return json.MarshalIndent(doc, "", "  ")
}

// reflectModel derives the JSON Schemas of modelSchemas and of every type they use.
func reflectModel() (map[string]any, error) {
	var comments map[string]string
	if err := json.Unmarshal(smpComments, &comments); err != nil {
		return nil, fmt.Errorf("openapi_comments.json: %w", err)
	}
	r := &jsonschema.Reflector{
		CommentMap: comments,
		// Configs are requests with defaults: a field left out is allowed. Results
		// always carry their non-omitempty fields, but saying so is not worth a
		// second set of schemas.
		RequiredFromJSONSchemaTags: true,
		Mapper:                     mapSMPType,
		Namer:                      func(t reflect.Type) string { return schemaName(t) },
	}
	out := map[string]any{}
	for name, v := range modelSchemas {
		s := r.Reflect(v)
		raw, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		// OpenAPI keeps shared schemas under components, not a schema's own $defs.
		raw = []byte(strings.ReplaceAll(string(raw), `"#/$defs/`, `"#/components/schemas/`))
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		defs, _ := m["$defs"].(map[string]any)
		for dn, d := range defs {
			if prev, ok := out[dn]; ok && !reflect.DeepEqual(prev, d) {
				return nil, fmt.Errorf("two Go types are both called %s", dn)
			}
			out[dn] = d
		}
		if defs[name] == nil {
			return nil, fmt.Errorf("no schema for %s", name)
		}
	}
	for name := range modelSchemas {
		out[name].(map[string]any)["x-meshperf-generated"] = true
	}
	return out, nil
}

// schemaName gives smp's types their own names, and keeps them apart from the API's
// hand-written bodies that share a name (Result is both).
func schemaName(t reflect.Type) string {
	for name, v := range modelSchemas {
		if reflect.TypeOf(v) == t {
			return name
		}
	}
	if t.Name() == "" {
		return "" // slices, maps: described in place
	}
	return "SMP" + t.Name()
}

// mapSMPType describes the smp types whose JSON form is not their Go shape.
func mapSMPType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeOf(smp.Duration(0)):
		return &jsonschema.Schema{
			OneOf: []*jsonschema.Schema{
				{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`},
				{Type: "number", Minimum: json.Number("0"), Description: "seconds"},
			},
			Description: "a duration: Go syntax (\"10s\", \"1m30s\", \"250ms\"), or a number of seconds",
		}
	case reflect.TypeOf(smp.Protocol(0)):
		return &jsonschema.Schema{
			OneOf: []*jsonschema.Schema{
				{Type: "string", Enum: []any{"HTTP", "TCP", "UDP", "GRPC", "PROTOCOL_HTTP", "PROTOCOL_TCP", "PROTOCOL_UDP", "PROTOCOL_GRPC"}},
				{Type: "integer", Enum: []any{1, 2, 3, 4}},
			},
			Description: "the SMP protocol, by name or by its proto enum number; results carry the name",
		}
	case reflect.TypeOf(smp.LoadModel("")):
		return &jsonschema.Schema{Type: "string", Enum: []any{string(smp.ModelClosed), string(smp.ModelOpen)},
			Description: "closed: connections send back to back; open: requests are due at a fixed arrival rate"}
	case reflect.TypeOf(smp.Histogram{}):
		return &jsonschema.Schema{Type: "string", ContentEncoding: "base64",
			Description: "an HDR histogram of microseconds (1 µs to 1 h, 3 significant figures) in the standard compressed encoding"}
	case reflect.TypeOf(smp.Threshold{}):
		return &jsonschema.Schema{
			OneOf: []*jsonschema.Schema{
				{Type: "string", Description: "an expression: METRIC OP VALUE, e.g. \"p99 < 250ms\", \"error_rate < 1%\", \"rps >= 950\""},
				thresholdObject(),
			},
		}
	}
	return nil
}

// thresholdObject is the long form of a threshold: {expr, abort_on_fail, abort_after}.
func thresholdObject() *jsonschema.Schema {
	type longForm struct {
		Expr        string       `json:"expr"`
		AbortOnFail bool         `json:"abort_on_fail,omitempty"`
		AbortAfter  smp.Duration `json:"abort_after,omitempty"`
	}
	r := &jsonschema.Reflector{DoNotReference: true, RequiredFromJSONSchemaTags: true, Mapper: func(t reflect.Type) *jsonschema.Schema {
		if t == reflect.TypeOf(smp.Duration(0)) {
			return mapSMPType(t)
		}
		return nil
	}}
	s := r.Reflect(longForm{})
	s.Version, s.ID = "", ""
	s.Required = []string{"expr"}
	return s
}
