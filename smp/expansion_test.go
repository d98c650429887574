package smp

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// aliasBomb is a small document whose labels repeat one anchor many times.
func aliasBomb(anchorBytes, refs int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "x-anchor: &big %q\nduration: 1s\nclients: [{endpoint_urls: [\"http://127.0.0.1:1/\"]}]\nlabels:\n", strings.Repeat("a", anchorBytes))
	for i := range refs {
		fmt.Fprintf(&b, "  k%d: *big\n", i)
	}
	return []byte(b.String())
}

type bombTarget struct {
	Anchor  string            `yaml:"x-anchor"`
	Labels  map[string]string `yaml:"labels"`
	Any     any               `yaml:"any"`
	List    []string          `yaml:"list"`
	Clients []any             `yaml:"clients"`
	D       Duration          `yaml:"duration"`
}

func TestAliasBytesAreBounded(t *testing.T) {
	doc := aliasBomb(1024, 20_000) // ~230 KB that expands to ~20 MB
	var out bombTarget
	err := DecodeStrict(doc, &out)
	var fe FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "once its aliases are resolved") {
		t.Fatalf("a %d-byte alias bomb was not refused by its expanded size: %v", len(doc), err)
	}
	if len(fe) != 1 {
		t.Errorf("want the problem named once, got %d: %v", len(fe), err)
	}
	// Under an untyped field too.
	anyBomb := "a: &a " + strings.Repeat("b", 4096) + "\nany: [" + strings.TrimSuffix(strings.Repeat("*a, ", 2000), ", ") + "]\n"
	if err := DecodeStrict([]byte(anyBomb), &struct {
		A   string `yaml:"a"`
		Any any    `yaml:"any"`
	}{}); err == nil || !strings.Contains(err.Error(), "aliases are resolved") {
		t.Fatalf("an alias bomb under an untyped field was not refused: %v", err)
	}
	// A few aliases stay fine.
	if err := DecodeStrict(aliasBomb(1024, 10), &out); err != nil {
		t.Fatalf("a modest use of aliases was refused: %v", err)
	}
}

func TestSecondDocumentRefused(t *testing.T) {
	_, err := DecodeConfig([]byte("clients: [{endpoint_urls: [\"http://a/\"]}]\n---\nclients: [{endpoint_urls: [\"http://b/\"]}]\n"))
	if err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
		t.Fatalf("a second document was ignored: %v", err)
	}
	if _, err := DecodeConfig([]byte("---\nclients: [{endpoint_urls: [\"http://a/\"]}]\n...\n")); err != nil {
		t.Fatalf("one document with markers was refused: %v", err)
	}
}

func TestFractionalWholeNumbersRefused(t *testing.T) {
	for _, doc := range []string{
		`{"clients":[{"endpoint_urls":["http://a/"],"rps":1.5}]}`,
		"clients: [{endpoint_urls: [\"http://a/\"], connections: 2.5}]",
	} {
		_, err := DecodeConfig([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "clients[0].") || !strings.Contains(err.Error(), "whole number") {
			t.Errorf("%s: want a whole-number error naming the field, got %v", doc, err)
		}
	}
	cfg, err := DecodeConfig([]byte(`{"clients":[{"endpoint_urls":["http://a/"],"rps":2.0}]}`))
	if err != nil || cfg.Clients[0].RPS != 2 {
		t.Fatalf("an integral 2.0 should read as 2: %v", err)
	}
}

func TestAbsurdValuesRefused(t *testing.T) {
	cases := map[string]string{
		`{"clients":[{"endpoint_urls":["http://a/"],"rps":1e12}]}`:                                                            "clients[0].rps",
		`{"duration":"20s","clients":[{"endpoint_urls":["http://a/"],"stages":[{"duration":"1s","rps":1e18}]}]}`:              "clients[0].stages[0].rps",
		`{"duration":"1000000h","clients":[{"endpoint_urls":["http://a/"]}]}`:                                                 "duration",
		`{"duration":1e15,"clients":[{"endpoint_urls":["http://a/"]}]}`:                                                       "duration",
		`{"clients":[{"endpoint_urls":["http://a/"],"timeout":"10000h"}]}`:                                                    "clients[0].timeout",
		`{"labels":{"":"x"},"clients":[{"endpoint_urls":["http://a/"]}]}`:                                                     `labels[""]`,
		`{"labels":{"a\u0000b":"x"},"clients":[{"endpoint_urls":["http://a/"]}]}`:                                             "labels[",
		`{"labels":{"k":"a\nb"},"clients":[{"endpoint_urls":["http://a/"]}]}`:                                                 `labels["k"]`,
		`{"clients":[{"endpoint_urls":["http://a/"],"connections":6000},{"endpoint_urls":["http://a/"],"connections":6000}]}`: "clients",
	}
	for doc, field := range cases {
		_, err := DecodeConfig([]byte(doc))
		var fe FieldErrors
		if !errors.As(err, &fe) || !strings.HasPrefix(fe[0].Path, field) {
			t.Errorf("%s: want an error on %s, got %v", doc, field, err)
		}
	}
	var many strings.Builder
	many.WriteString(`{"clients":[`)
	for i := range MaxClients + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"endpoint_urls":["http://a/"],"connections":1}`)
	}
	many.WriteString("]}")
	if _, err := DecodeConfig([]byte(many.String())); err == nil || !strings.Contains(err.Error(), "clients: at most") {
		t.Errorf("%d clients accepted: %v", MaxClients+1, err)
	}
}

// expandedBytes sums the strings and keys a decoded value holds.
func expandedBytes(v reflect.Value) int {
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return expandedBytes(v.Elem())
	case reflect.Slice, reflect.Array:
		n := 0
		for i := range v.Len() {
			n += expandedBytes(v.Index(i))
		}
		return n
	case reflect.Map:
		n := 0
		for it := v.MapRange(); it.Next(); {
			n += expandedBytes(it.Key()) + expandedBytes(it.Value())
		}
		return n
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				n += expandedBytes(v.Field(i))
			}
		}
		return n
	}
	return 0
}

// FuzzDecodeExpansion: whatever the document, what DecodeStrict accepts holds at most
// its own size plus MaxAliasExpansionBytes of strings.
func FuzzDecodeExpansion(f *testing.F) {
	f.Add(aliasBomb(64, 100))
	f.Add([]byte("a: &a [x, y, z]\nany: [*a, *a, *a]\nlist: [q]\n"))
	f.Add([]byte("labels: &l {k: v}\nany: {a: *l, b: *l}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bombTarget
		if err := DecodeStrict(data, &out); err != nil {
			return
		}
		if got, limit := expandedBytes(reflect.ValueOf(out)), len(data)+MaxAliasExpansionBytes; got > limit {
			t.Fatalf("a %d-byte document decoded to %d bytes of strings (limit %d)", len(data), got, limit)
		}
	})
}

func TestEndpointsParseToWhatIsDialled(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:8079":        "127.0.0.1:8079",
		"grpc://127.0.0.1:8079": "127.0.0.1:8079",
		"http://10.0.0.1:80/":   "10.0.0.1:80",
		"https://svc.ns:443":    "svc.ns:443",
		"dns:///localhost:9000": "localhost:9000",
		"[::1]:8079":            "[::1]:8079",
	}
	for raw, want := range good {
		e, err := ParseEndpoint(ProtocolGRPC, raw)
		if err != nil || e.HostPort() != want {
			t.Errorf("ParseEndpoint(%q) = %v, %v; want %s", raw, e.HostPort(), err, want)
		}
	}
	for _, raw := range []string{
		"passthrough://127.0.0.1:1/127.0.0.2:23479?x", // checked as 127.0.0.1, dialled 127.0.0.2
		"dns://127.0.0.1:1/127.0.0.2:23479#x",
		"passthrough:///127.0.0.2:80",
		"unix:///tmp/sock", "unix:80", "dns:80",
		"127.0.0.1:1/127.0.0.2:80", "127.0.0.1:80?x", "user@127.0.0.1:80",
		"xds:///svc:80", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1",
	} {
		if e, err := ParseEndpoint(ProtocolGRPC, raw); err == nil {
			t.Errorf("ParseEndpoint(%q) accepted as %s", raw, e.HostPort())
		}
		if hp := EndpointHostPort(raw); hp != "" {
			t.Errorf("EndpointHostPort(%q) = %q, want none", raw, hp)
		}
	}
	if _, err := ParseEndpoint(ProtocolTCP, "tcp://127.0.0.1:9"); err != nil {
		t.Errorf("tcp:// refused: %v", err)
	}
	if _, err := ParseEndpoint(ProtocolTCP, "https://127.0.0.1:9"); err == nil {
		t.Error("https:// accepted for TCP")
	}
	target, err := GRPCDialTarget("https://svc:443/")
	if err != nil || target != "https://svc:443" {
		t.Errorf("GRPCDialTarget kept TLS wrong: %q %v", target, err)
	}
}
