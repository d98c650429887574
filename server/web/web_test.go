package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The app answers every deep link, never cached; hashed assets are cached for good;
// every answer forbids inline scripts.
func TestServesTheAppAndItsAssets(t *testing.T) {
	h := Handler()
	index := get(t, h, "GET", "/")
	if index.Code != 200 || !strings.Contains(index.Body.String(), `<div id="app">`) || index.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("/: %d %q %.200s", index.Code, index.Header().Get("Cache-Control"), index.Body.String())
	}
	for _, deep := range []string{"/results/0123abcd", "/compare?ids=a,b,c", "/profiles/new", "/index.html"} {
		w := get(t, h, "GET", deep)
		if w.Code != 200 || w.Body.String() != index.Body.String() || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d, not the app", deep, w.Code)
		}
	}
	csp := index.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-") {
		t.Errorf("CSP %q", csp)
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(index.Body.String(), -1)
	if len(scripts) == 0 {
		t.Fatal("the app has no script")
	}
	for _, s := range scripts {
		m := regexp.MustCompile(`src="(/assets/[^"]+\.js)"`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("an inline script in index.html (the CSP would block it): %s", s)
		}
		asset := get(t, h, "GET", m[1], "Accept-Encoding", "gzip")
		if asset.Code != 200 || asset.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			!strings.HasPrefix(asset.Header().Get("Content-Type"), "text/javascript") || asset.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d %v", m[1], asset.Code, asset.Header())
		}
		zr, err := gzip.NewReader(asset.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		want, _ := fs.ReadFile(embedded, "dist"+m[1])
		if !bytes.Equal(plain, want) {
			t.Errorf("%s: the gzipped answer is not the file", m[1])
		}
	}
	again := get(t, h, "GET", "/results", "If-None-Match", index.Header().Get("ETag"))
	if index.Header().Get("ETag") == "" || again.Code != http.StatusNotModified {
		t.Errorf("a revalidated app: %d (ETag %q)", again.Code, index.Header().Get("ETag"))
	}
	if w := get(t, h, "GET", "/assets/nope.js"); w.Code != 404 {
		t.Errorf("a missing asset: %d (an asset is never the app)", w.Code)
	}
	if w := get(t, h, "POST", "/"); w.Code != 405 {
		t.Errorf("POST /: %d", w.Code)
	}
	if w := get(t, h, "GET", "/../../etc/passwd"); w.Code != 200 || w.Body.String() != index.Body.String() {
		t.Errorf("a path outside: %d", w.Code)
	}
}

// The API keeps its paths; everything else a browser asks for is the UI.
func TestMountKeepsTheAPI(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	h := Mount(api)
	for path, want := range map[string]int{"/api/v1/results": 299, "/healthz": 299, "/readyz": 299, "/metrics": 299, "/api": 299,
		"/": 200, "/results": 200, "/apix": 200} {
		if w := get(t, h, "GET", path); w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
	}
	if w := get(t, h, "POST", "/results"); w.Code != 299 {
		t.Errorf("POST /results went to the UI: %d", w.Code)
	}
}

// The committed bundle stays within its budget (the build checks it too).
func TestBundleSizeBudget(t *testing.T) {
	const budget = 150 << 10
	var total int
	err := fs.WalkDir(embedded, "dist/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(embedded, p)
		total += len(gzipBytes(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the UI's assets: %.1f KiB gzipped of a %d KiB budget", float64(total)/1024, budget>>10)
	if total == 0 || total > budget {
		t.Errorf("the UI's assets are %d bytes gzipped; the budget is %d", total, budget)
	}
}
