package smp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a document, named by its path (clients[0].rps) and,
// when it came from a file, its line.
type FieldError struct {
	Path string `json:"field"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

func (e FieldError) Error() string {
	where := e.Path
	if where == "" {
		where = "document"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", where, e.Line, e.Msg)
	}
	return where + ": " + e.Msg
}

// FieldErrors lists every problem found, so a user fixes them all in one go.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(es))
	for _, e := range es {
		b.WriteString("\n  - ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Add appends a problem.
func (es *FieldErrors) Add(path string, line int, format string, args ...any) {
	*es = append(*es, FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems (a typed nil would not be nil).
func (es FieldErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// MaxDocumentBytes bounds what the decoders read; larger inputs are refused whole.
const MaxDocumentBytes = 8 << 20

// DecodeStrict reads a YAML or JSON document into out (a pointer to a struct). Unknown
// fields, duplicate keys and values of the wrong type are all reported at once, each
// with its path and line; out is left untouched unless the whole document is good.
func DecodeStrict(data []byte, out any) error {
	if len(data) > MaxDocumentBytes {
		return FieldErrors{{Msg: fmt.Sprintf("document is %d bytes; the limit is %d", len(data), MaxDocumentBytes)}}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return FieldErrors{{Msg: "document is empty"}}
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		// JSON is YAML, except that YAML refuses tab indentation; a valid JSON document
		// has tabs only as whitespace (a raw tab inside a string is invalid JSON).
		data = bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return FieldErrors{{Msg: "document is empty"}}
		}
		return FieldErrors{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return FieldErrors{{Msg: "document is empty"}}
	}
	// A second document would be silently ignored: refuse it, so what is stored is
	// what was sent.
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			line = 0
		}
		return FieldErrors{{Line: line, Msg: "holds more than one YAML document; send exactly one"}}
	}
	doc := root.Content[0]
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("smp: DecodeStrict needs a non-nil pointer, got %T", out)
	}
	var errs FieldErrors
	budget := newBudget(len(data))
	checkNode(doc, rv.Type().Elem(), "", &errs, 0, budget)
	if len(errs) > 0 {
		return errs
	}
	fresh := reflect.New(rv.Type().Elem())
	if err := doc.Decode(fresh.Interface()); err != nil {
		// checkNode should have caught everything; report what the decoder says anyway.
		return FieldErrors{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	rv.Elem().Set(fresh.Elem())
	return nil
}

// DecodeNode strictly decodes one YAML node into out, naming every problem: for
// custom decoders of types that accept several shapes.
func DecodeNode(n *yaml.Node, out any) error {
	rv := reflect.ValueOf(out)
	var errs FieldErrors
	checkNode(n, rv.Type().Elem(), "", &errs, 0, newBudget(0))
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return n.Decode(out)
}

// maxDepth bounds recursion on hostile documents (deep nesting or alias loops), and
// maxNodes the nodes visited once aliases are expanded (a "billion laughs" document
// is small on disk and huge in memory). MaxAliasExpansionBytes bounds what aliases
// add: a document expands to at most its own size plus that many bytes of keys and
// values, so a 230 KB body cannot become a 20 MB stored profile.
const (
	maxDepth               = 64
	maxNodes               = 1_000_000
	MaxAliasExpansionBytes = 256 << 10
)

// budget is what is left of a document's expansion allowance while it is checked.
type budget struct {
	nodes     int
	bytes     int
	overNodes bool
	overBytes bool
	limit     int
}

// newBudget allows the nodes of any document and the bytes of a document of size
// inputBytes plus MaxAliasExpansionBytes (decoded scalars are never longer than
// their source, so only aliases can use the extra).
func newBudget(inputBytes int) *budget {
	limit := inputBytes + MaxAliasExpansionBytes
	return &budget{nodes: maxNodes, bytes: limit, limit: limit}
}

// spend takes one node and its bytes; false (with the problem added once) when the
// document expands beyond its allowance.
func (b *budget) spend(n *yaml.Node, path string, errs *FieldErrors) bool {
	if b.overNodes || b.overBytes {
		return false
	}
	b.nodes--
	if b.nodes < 0 {
		b.overNodes = true
		errs.Add(path, n.Line, "document expands to more than %d values (aliases?)", maxNodes)
		return false
	}
	b.bytes -= len(n.Value)
	if b.bytes < 0 {
		b.overBytes = true
		errs.Add(path, n.Line, "document expands to more than %d bytes once its aliases are resolved; the limit is its own size plus %d", b.limit, MaxAliasExpansionBytes)
		return false
	}
	return true
}

// spendTree spends a whole subtree (values of any type, not walked by type).
func (b *budget) spendTree(n *yaml.Node, path string, errs *FieldErrors, depth int) bool {
	if depth > maxDepth {
		errs.Add(path, n.Line, "nested too deeply")
		return false
	}
	if !b.spend(n, path, errs) {
		return false
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return b.spendTree(n.Alias, path, errs, depth+1)
	}
	for _, c := range n.Content {
		if !b.spendTree(c, path, errs, depth+1) {
			return false
		}
	}
	return true
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

func checkNode(n *yaml.Node, t reflect.Type, path string, errs *FieldErrors, depth int, budget *budget) {
	if depth > maxDepth {
		errs.Add(path, n.Line, "nested too deeply")
		return
	}
	if !budget.spend(n, path, errs) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			errs.Add(path, n.Line, "unknown alias")
			return
		}
		checkNode(n.Alias, t, path, errs, depth+1, budget)
		return
	}
	if n.Tag == "!!null" && n.Kind == yaml.ScalarNode {
		return // null leaves the zero value
	}
	if t == timeType {
		var ts time.Time
		if n.Kind != yaml.ScalarNode || n.Decode(&ts) != nil {
			errs.Add(path, n.Line, "expected an RFC 3339 timestamp, got %s", kindName(n))
		}
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// A custom decoder resolves aliases itself: spend what it will see first.
		for _, c := range n.Content {
			if !budget.spendTree(c, path, errs, depth+1) {
				return
			}
		}
		v := reflect.New(t)
		if err := v.Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			errs.Add(path, n.Line, "%s", err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkNode(n, t.Elem(), path, errs, depth+1, budget)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			errs.Add(path, n.Line, "expected a mapping of fields, got %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := joinPath(path, key.Value)
			if seen[key.Value] {
				errs.Add(p, key.Line, "field given twice")
				continue
			}
			seen[key.Value] = true
			if !budget.spend(key, p, errs) {
				return
			}
			f, ok := fields[key.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field %q", key.Value)
				if s := suggest(key.Value, fields); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				errs.Add(p, key.Line, "%s", msg)
				continue
			}
			checkNode(val, f.Type, p, errs, depth+1, budget)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			errs.Add(path, n.Line, "expected a mapping, got %s", kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := path + "[" + strconv.Quote(key.Value) + "]"
			if key.Kind != yaml.ScalarNode {
				errs.Add(p, key.Line, "keys must be plain strings")
				continue
			}
			if seen[key.Value] {
				errs.Add(p, key.Line, "key given twice")
				continue
			}
			seen[key.Value] = true
			if !budget.spend(key, p, errs) {
				return
			}
			checkNode(val, t.Elem(), p, errs, depth+1, budget)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			errs.Add(path, n.Line, "expected a list, got %s", kindName(n))
			return
		}
		for i, el := range n.Content {
			checkNode(el, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs, depth+1, budget)
		}
	case reflect.Interface:
		// anything goes, within the expansion budget
		for _, c := range n.Content {
			if !budget.spendTree(c, path, errs, depth+1) {
				return
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			errs.Add(path, n.Line, "expected %s, got %s", typeName(t), kindName(n))
			return
		}
		if isInteger(t) && n.ShortTag() == "!!float" {
			// yaml.v3 would truncate 1.5 to 1 without a word.
			if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != math.Trunc(f) {
				errs.Add(path, n.Line, "expected %s, got %q", typeName(t), n.Value)
				return
			}
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			errs.Add(path, n.Line, "expected %s, got %q", typeName(t), n.Value)
		}
	}
}

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

type yamlField struct {
	Type reflect.Type
}

var fieldCache sync.Map // reflect.Type -> map[string]yamlField

func yamlFields(t reflect.Type) map[string]yamlField {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]yamlField)
	}
	m := map[string]yamlField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An inlined struct's fields are the outer mapping's own, as yaml.v3 reads them.
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = yamlField{Type: f.Type}
	}
	fieldCache.Store(t, m)
	return m
}

func joinPath(base, field string) string {
	if base == "" {
		return field
	}
	return base + "." + field
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// suggest returns the known field closest to a misspelt one, if any is close.
func suggest(got string, fields map[string]yamlField) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, k := range names {
		if d := levenshtein(strings.ToLower(got), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DecodeConfig reads a test config (YAML or JSON), applies defaults and validates it.
// Every problem is returned at once as FieldErrors.
func DecodeConfig(data []byte) (*TestConfig, error) {
	var cfg TestConfig
	if err := DecodeStrict(data, &cfg); err != nil {
		return nil, err
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// IsInputError reports whether err describes bad input (as opposed to a failure to run).
func IsInputError(err error) bool {
	var fe FieldErrors
	var one FieldError
	return errors.As(err, &fe) || errors.As(err, &one)
}
