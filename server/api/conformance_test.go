package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	suite "github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/server/api"
	confsvc "github.com/meshperf/meshperf/server/conformance"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
)

func signedReport(t *testing.T, key ed25519.PrivateKey, version, core string) []byte {
	t.Helper()
	rep := &suite.Report{APIVersion: suite.ReportAPIVersion, Kind: suite.ReportKind, Mesh: suite.Mesh{Name: "linkerd", Version: version},
		Date: "2026-12-01T10:00:00Z", Profiles: []suite.ProfileReport{{Name: "SMI", Specification: suite.SMIArchived,
			Core:  suite.Status{Result: core, Statistics: suite.Statistics{Passed: 9}},
			Tests: []suite.TestResult{{Name: "smi-access-default-deny", Outcome: suite.Pass}}}}}
	if err := rep.Sign(key); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.Write(&b, suite.FormatYAML)
	return b.Bytes()
}

// Uploads need an editor and a report that verifies; runs are listed, got and
// downloaded in every format (the signed ones still verify), and the matrix keeps
// the newest per mesh, version and profile.
func TestConformanceAPI(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		var svc *confsvc.Service
		h := newHarness(t, kind, api.Options{}, func(st *store.Store, o *api.Options) {
			box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
			if err != nil {
				t.Fatal(err)
			}
			svc, err = confsvc.New(context.Background(), st, connections.New(st, connections.Options{Box: box}), nil, box, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(svc.Close)
			o.Conformance = svc
		})
		ci, _ := suite.GenerateKey()
		good := signedReport(t, ci, "2.14.1", suite.ResultSuccess)

		if code, _ := h.do("POST", "/api/v1/conformance/reports", h.viewer, string(good)); code != http.StatusForbidden {
			t.Errorf("viewer upload: %d", code)
		}
		tampered := strings.Replace(string(good), "2.14.1", "2.15.0", 1)
		code, body := h.do("POST", "/api/v1/conformance/reports", h.editor, tampered)
		if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body).Message, "altered") {
			t.Errorf("tampered upload: %d %s", code, body)
		}
		code, body = h.do("POST", "/api/v1/conformance/reports", h.editor, string(good))
		var run api.ConformanceRun
		if code != http.StatusCreated || json.Unmarshal(body, &run) != nil || run.Status != "uploaded" || run.Mesh != "linkerd" ||
			!run.Conformant || run.KeyID != suite.KeyID(ci.Public().(ed25519.PublicKey)) || run.CreatedBy != "ed" {
			t.Fatalf("upload: %d %s", code, body)
		}
		_, _ = h.do("POST", "/api/v1/conformance/reports", h.editor, string(signedReport(t, ci, "2.14.1", suite.ResultFailure)))
		_, _ = h.do("POST", "/api/v1/conformance/reports", h.editor, string(signedReport(t, ci, "2.13.0", suite.ResultSuccess)))

		code, body = h.do("GET", "/api/v1/conformance/runs", h.viewer, nil)
		var list struct{ Items []api.ConformanceRun }
		if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) != 3 {
			t.Errorf("list: %d %s", code, body)
		}
		if code, body = h.do("GET", "/api/v1/conformance/runs/"+run.ID, h.viewer, nil); code != 200 || !strings.Contains(string(body), run.ID) {
			t.Errorf("get: %d %s", code, body)
		}
		for format, want := range map[string]string{"yaml": "kind: ConformanceReport", "json": `"kind": "ConformanceReport"`,
			"markdown": "archived by the CNCF", "junit": "<testsuites"} {
			code, body = h.do("GET", "/api/v1/conformance/runs/"+run.ID+"/report?format="+format, h.viewer, nil)
			if code != 200 || !strings.Contains(string(body), want) {
				t.Errorf("report as %s: %d %s", format, code, body)
			}
			if format == "yaml" || format == "json" {
				if _, err := suite.Verify(body, ci.Public().(ed25519.PublicKey)); err != nil {
					t.Errorf("downloaded %s report: %v", format, err)
				}
			}
		}
		if code, _ = h.do("GET", "/api/v1/conformance/runs/"+run.ID+"/report?format=pdf", h.viewer, nil); code != 400 {
			t.Errorf("unknown format: %d", code)
		}
		if code, _ = h.do("GET", "/api/v1/conformance/runs/nope", h.viewer, nil); code != 404 {
			t.Errorf("missing run: %d", code)
		}

		code, body = h.do("GET", "/api/v1/conformance/matrix", h.viewer, nil)
		var m struct{ Items []confsvc.Cell }
		if code != 200 || json.Unmarshal(body, &m) != nil || len(m.Items) != 2 || m.Items[0].Version != "2.13.0" ||
			m.Items[1].Version != "2.14.1" || m.Items[1].Core != suite.ResultFailure {
			t.Errorf("matrix (newest per cell): %d %s", code, body)
		}

		code, body = h.do("GET", "/api/v1/conformance/key", h.viewer, nil)
		if code != 200 || !strings.Contains(string(body), suite.KeyID(svc.PublicKey())) {
			t.Errorf("key: %d %s", code, body)
		}

		code, body = h.do("POST", "/api/v1/conformance/runs", h.editor, map[string]any{"cluster": "c9", "profiles": []string{"SMI", "HTTP"}})
		if code != 400 || !strings.Contains(errorOf(t, body).Message, "profiles") {
			t.Errorf("bad profile: %d %s", code, body)
		}
		if code, _ = h.do("POST", "/api/v1/conformance/runs", h.editor, map[string]any{"cluster": "c9", "profiles": []string{"SMI"}}); code != 404 {
			t.Errorf("unknown cluster: %d", code)
		}
		if code, _ = h.do("POST", "/api/v1/conformance/runs", h.viewer, map[string]any{"cluster": "c9", "profiles": []string{"SMI"}}); code != 403 {
			t.Errorf("viewer run: %d", code)
		}
		if code, body = h.do("POST", "/api/v1/conformance/runs", h.editor, map[string]any{"cluster": "c9", "profile": "SMI"}); code != 400 {
			t.Errorf("unknown field: %d %s", code, body)
		}
	})
}
