package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// checkResponses wraps the API so that every JSON response any test provokes is
// validated against the served OpenAPI document: the schema of its route, method
// and status. A response the document does not describe fails the test, so a
// client generated from the document can read everything the server sends.
func checkResponses(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	v, err := newResponseValidator(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("the served OpenAPI document: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(tw, r)
		if tw.streamed {
			return
		}
		if err := v.check(r, tw.status, tw.Header().Get("Content-Type"), tw.body.Bytes()); err != nil {
			t.Errorf("%s %s -> %d: the response does not match openapi.json: %#v\n%s", r.Method, r.URL.Path, tw.status, err, clip(tw.body.String()))
		}
	})
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

type responseValidator struct {
	doc      map[string]any
	routes   *http.ServeMux
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

func newResponseValidator(raw []byte) (*responseValidator, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020) // OpenAPI 3.1's dialect
	if err := c.AddResource("mem://openapi.json", inst); err != nil {
		return nil, err
	}
	v := &responseValidator{doc: doc, routes: http.NewServeMux(), compiler: c, compiled: map[string]*jsonschema.Schema{}}
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			v.routes.HandleFunc(strings.ToUpper(method)+" "+path, func(http.ResponseWriter, *http.Request) {})
		}
	}
	return v, nil
}

func (v *responseValidator) check(r *http.Request, status int, contentType string, body []byte) error {
	if !strings.HasPrefix(contentType, "application/json") || len(body) == 0 {
		return nil
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "json" {
		return nil // the SMP exports follow SMP's own schema
	}
	_, pattern := v.routes.Handler(r)
	if pattern == "" {
		return nil // an unknown path: TestOpenAPIMatchesRoutes holds routes and document equal
	}
	method, path, _ := strings.Cut(pattern, " ")
	method = strings.ToLower(method)
	op, _ := v.doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	resps, _ := op["responses"].(map[string]any)
	ptr := "#/paths/" + pointer(path) + "/" + method + "/responses/"
	code := strconv.Itoa(status)
	resp, ok := resps[code]
	if !ok {
		code = "default"
		if resp, ok = resps[code]; !ok {
			return fmt.Errorf("status %d is not documented", status)
		}
	}
	ptr += code
	if ref, _ := resp.(map[string]any)["$ref"].(string); ref != "" {
		ptr = ref
		resp = v.doc
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			resp, _ = resp.(map[string]any)[tok]
		}
	}
	content, _ := resp.(map[string]any)["content"].(map[string]any)
	if content["application/json"] == nil {
		return fmt.Errorf("status %d documents no JSON body", status)
	}
	sch, err := v.schema("mem://openapi.json" + ptr + "/content/application~1json/schema")
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(inst)
}

func (v *responseValidator) schema(loc string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.compiled[loc]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", loc, err)
	}
	v.compiled[loc] = s
	return s, nil
}

// pointer escapes one JSON-pointer token for use in a URI fragment.
func pointer(tok string) string {
	tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
	return url.PathEscape(tok)
}

// teeWriter keeps a copy of what the handler writes; streams (SSE) pass through.
type teeWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
	streamed    bool
}

func (w *teeWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	if !w.streamed && w.body.Len() < 8<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	w.streamed = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *teeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.streamed = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
