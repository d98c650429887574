package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// The OpenAPI document and the route table agree both ways: every documented
// operation is served, every served route is documented, with the same role.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]string{} // "GET /path" -> role
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Role     string            `json:"x-meshperf-role"`
				Security []json.RawMessage `json:"security"`
				OpID     string            `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.OpID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			documented[strings.ToUpper(method)+" "+path] = op.Role
		}
	}
	served := map[string]string{}
	for _, rt := range (&API{}).routes() {
		served[rt.method+" "+rt.pattern] = string(rt.role)
	}
	for k, role := range served {
		dr, ok := documented[k]
		if !ok {
			t.Errorf("served but not documented: %s", k)
		} else if dr != role {
			t.Errorf("%s: documented role %q, served with %q", k, dr, role)
		}
	}
	for k := range documented {
		if _, ok := served[k]; !ok {
			t.Errorf("documented but not served: %s", k)
		}
	}
	keys := make([]string, 0, len(served))
	for k := range served {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d routes documented and served", len(keys))
}
