// Package web serves meshperf's web UI: the built assets of ui/ (committed under
// dist/, so building meshperf needs no Node) embedded in the binary, beside the API on
// the same origin.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var embedded embed.FS

// CSP allows the UI's own scripts and nothing inline: an injected <script> does not
// run, nor an inline style (the app sets styles through the DOM, which CSP allows).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the UI: hashed assets cached for good, anything else the app itself
// (index.html, never cached) so that deep links such as /results/ID or
// /compare?ids=... open the right view.
func Handler() http.Handler { return handler(mustSub(embedded, "dist")) }

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dist is compiled in
	}
	return sub
}

// asset is one file ready to serve: its bytes, gzipped, and an entity tag of its content.
type asset struct {
	plain, zipped []byte
	etag          string
}

func handler(files fs.FS) http.Handler {
	var assets sync.Map // name -> *asset, made on first request
	load := func(name string) (*asset, bool) {
		if a, ok := assets.Load(name); ok {
			return a.(*asset), true
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, false
		}
		sum := sha256.Sum256(body)
		a := &asset{plain: body, zipped: gzipBytes(body), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		assets.Store(name, a)
		return a, true
	}
	serve := func(w http.ResponseWriter, r *http.Request, name, cache string) bool {
		a, ok := load(name)
		if !ok {
			return false
		}
		h := w.Header()
		h.Set("Cache-Control", cache)
		h.Set("Vary", "Accept-Encoding")
		if ctype := contentType(name); ctype != "" {
			h.Set("Content-Type", ctype)
		}
		body, etag := a.plain, a.etag
		if len(a.plain) > 1024 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			body, etag = a.zipped, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		}
		h.Set("ETag", etag)
		// ServeContent answers HEAD, ranges and If-None-Match (an embedded file has no
		// modification time: the zero time leaves Last-Modified out).
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
		return true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the UI answers GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if strings.HasPrefix(name, "assets/") {
			// Names carry a hash of their content: cache them for good.
			if !serve(w, r, name, "public, max-age=31536000, immutable") {
				http.NotFound(w, r)
			}
			return
		}
		if name != "" && name != "index.html" && serve(w, r, name, "no-cache") {
			return
		}
		if !serve(w, r, "index.html", "no-cache") {
			http.Error(w, "the UI is not built: run make ui", http.StatusNotFound)
		}
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return ""
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// Mount puts the UI beside the API: /api/, /healthz, /readyz and /metrics (and every
// method but GET and HEAD) go to the API, anything else to the UI.
func Mount(api http.Handler) http.Handler {
	ui := Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") || p == "/api" || p == "/healthz" || p == "/readyz" || p == "/metrics" ||
			(r.Method != http.MethodGet && r.Method != http.MethodHead) {
			api.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}
