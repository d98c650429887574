package api

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
)

var update = flag.Bool("update", false, "rewrite openapi_comments.json from the smp sources")

// The fields' descriptions come from smp's doc comments: the committed copy must be
// the one the sources give today.
func TestOpenAPIComments(t *testing.T) {
	t.Chdir("../..") // comments are keyed by import path: read smp from the module root
	r := &jsonschema.Reflector{}
	if err := r.AddGoComments("github.com/meshperf/meshperf", "./smp"); err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(r.CommentMap, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("server/api/openapi_comments.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if string(want) != string(smpComments) {
		t.Fatal("openapi_comments.json is stale: go test ./server/api -run TestOpenAPIComments -update")
	}
}

// Every config and result field is in the document, with its type, enums and the
// doc comment that gives its unit; the served document parses.
func TestOpenAPIModelSchemas(t *testing.T) {
	doc, err := buildOpenAPI(openAPIBase)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	s := d.Components.Schemas
	props := func(name string) map[string]any {
		p, _ := s[name]["properties"].(map[string]any)
		if p == nil {
			t.Fatalf("schema %s has no properties: %v", name, s[name])
		}
		return p
	}
	for name, v := range modelSchemas {
		typ := reflect.TypeOf(v)
		p := props(name)
		for i := range typ.NumField() {
			tag := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			if p[tag] == nil {
				t.Errorf("%s.%s is missing from the document", name, tag)
			}
		}
	}
	client := props("SMPClient")
	if model := client["model"].(map[string]any); !reflect.DeepEqual(model["enum"], []any{"closed", "open"}) {
		t.Errorf("model enum: %v", model["enum"])
	}
	summary := props("SMPSummary")
	if d, _ := summary["actual_rps"].(map[string]any)["description"].(string); d == "" {
		t.Logf("SMPSummary.actual_rps has no description (no doc comment in smp)")
	}
	gen := props("SMPGeneratorReport")
	if d, _ := gen["sched_latency_p99_ms"].(map[string]any)["description"].(string); !strings.Contains(d, "p99") {
		t.Errorf("sched_latency_p99_ms: the doc comment did not reach the document: %q", d)
	}
	if s["Result"]["x-meshperf-generated"] != true || s["TestConfig"]["additionalProperties"] != false {
		t.Errorf("Result/TestConfig not derived from Go: %v / %v", s["Result"]["x-meshperf-generated"], s["TestConfig"]["additionalProperties"])
	}
}
