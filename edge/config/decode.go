package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads, checks and compiles the distribution file at path. On invalid
// input the error is an *ErrorList holding every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks and compiles a distribution file's content; name is the file
// name used in error positions and the base of relative paths in the file.
// On invalid input the error is an *ErrorList holding every problem found,
// each with its position.
func Parse(name string, data []byte) (*Config, error) {
	f, ps, errs := decode(name, data)
	if f == nil {
		return nil, &ErrorList{Errors: sortErrors(errs)}
	}
	// Values that did not decode were reported and left zero; checking the
	// rest finds the other problems, so one run reports them all.
	cfg, cerrs := compile(name, f, ps)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		return nil, &ErrorList{Errors: sortErrors(errs)}
	}
	return cfg, nil
}

// Compile checks and compiles a File built in code (or by an importer), as
// Parse does one read from YAML. name is used in error messages and as the
// base of relative paths; errors carry no line numbers.
func Compile(name string, f *File) (*Config, error) {
	if f == nil {
		f = &File{}
	}
	cfg, errs := compile(name, f, nil)
	if len(errs) > 0 {
		return nil, &ErrorList{Errors: errs}
	}
	return cfg, nil
}

// Marshal encodes f as YAML that Parse accepts.
func Marshal(f *File) ([]byte, error) {
	return yaml.MarshalWithOptions(f, yaml.IndentSequence(true))
}

// decode parses data into a File, reporting syntax errors, unknown fields
// and bad values, and records the position of every value. It returns a nil
// File only when the YAML could not be decoded at all.
func decode(name string, data []byte) (*File, *positions, []Error) {
	ps := &positions{file: name, m: map[string]Pos{}, keys: map[string]Pos{}}
	astFile, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, nil, []Error{yamlError(name, err)}
	}
	var body ast.Node
	for _, doc := range astFile.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, nil, []Error{{Pos: nodePos(name, doc.Body), Msg: "more than one YAML document; a distribution file holds one"}}
		}
		body = doc.Body
	}
	if body == nil {
		return nil, nil, []Error{{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "empty file: a distribution needs origins and a default_behavior"}}
	}
	if _, ok := unwrap(body).(ast.MapNode); !ok {
		return nil, nil, []Error{{Pos: nodePos(name, body), Msg: "a distribution file is a mapping (origins:, default_behavior:, ...)"}}
	}

	c := &collector{file: name}
	w := walker{ps: ps, c: c}
	w.walk(body, reflect.TypeFor[File](), "")
	unknown := len(c.errs)

	opts := []yaml.DecodeOption{}
	if unknown == 0 {
		// The walker found no unknown field; strict decoding is the
		// backstop that keeps it honest.
		opts = append(opts, yaml.Strict())
	}
	var f File
	ctx := context.WithValue(context.Background(), collectorKey{}, c)
	dec := yaml.NewDecoder(bytes.NewReader(data), opts...)
	if err := dec.DecodeFromNodeContext(ctx, body, &f); err != nil {
		c.errs = append(c.errs, yamlError(name, err))
		return nil, nil, c.errs
	}
	return &f, ps, c.errs
}

// yamlError turns a go-yaml error into an Error at its token.
func yamlError(name string, err error) Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pos := Pos{File: name}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pos.Line, pos.Col = tk.Position.Line, tk.Position.Column
		}
		return Error{Pos: pos, Msg: strings.TrimSpace(ye.GetMessage())}
	}
	return Error{Pos: Pos{File: name}, Msg: err.Error()}
}

// positions maps value paths (see fieldPath, keyPath, indexPath) to where the
// value is written. A nil *positions (a File built in code) knows none.
type positions struct {
	file string
	m    map[string]Pos // where each value is
	keys map[string]Pos // where each map entry's key is
}

func fieldPath(parent, name string) string { return parent + "." + name }
func keyPath(parent, key string) string    { return parent + "[" + strconv.Quote(key) + "]" }
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// walker checks mapping keys against the yaml field names of the Go types
// they decode into, reporting every unknown field (go-yaml's strict mode
// stops at the first), and records positions.
type walker struct {
	ps *positions
	c  *collector
}

var durationType = reflect.TypeFor[Duration]()

func (w *walker) walk(node ast.Node, t reflect.Type, path string) {
	node = unwrap(node)
	if node == nil {
		return
	}
	w.ps.m[path] = nodePos(w.ps.file, firstKey(node))
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		mn, ok := node.(ast.MapNode)
		if !ok || t == durationType {
			return // a scalar form, or a type error the decoder reports
		}
		fields := yamlFields(t)
		it := mn.MapRange()
		for it.Next() {
			key := it.Key().GetToken().Value
			if key == "<<" {
				continue
			}
			ft, ok := fields[key]
			if !ok {
				w.c.errs = append(w.c.errs, Error{Pos: nodePos(w.ps.file, it.Key()), Msg: unknownField(key, t, fields)})
				continue
			}
			w.walk(it.Value(), ft, fieldPath(path, key))
		}
	case reflect.Map:
		if mn, ok := node.(ast.MapNode); ok {
			it := mn.MapRange()
			for it.Next() {
				p := keyPath(path, it.Key().GetToken().Value)
				w.ps.keys[p] = nodePos(w.ps.file, it.Key())
				w.walk(it.Value(), t.Elem(), p)
				if _, ok := w.ps.m[p]; !ok {
					w.ps.m[p] = w.ps.keys[p]
				}
			}
		}
	case reflect.Slice:
		if seq, ok := node.(*ast.SequenceNode); ok {
			for i, v := range seq.Values {
				w.walk(v, t.Elem(), indexPath(path, i))
			}
		}
	}
}

// yamlFields maps a struct's yaml field names to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// sectionNames are the user's names for the structs of a distribution file.
var sectionNames = map[reflect.Type]string{
	reflect.TypeFor[File]():                    "a distribution file",
	reflect.TypeFor[TLSSpec]():                 "tls",
	reflect.TypeFor[OriginSpec]():              "an origin",
	reflect.TypeFor[GroupSpec]():               "an origin group",
	reflect.TypeFor[OACSpec]():                 "oac",
	reflect.TypeFor[BehaviorSpec]():            "a behavior",
	reflect.TypeFor[SignedSpec]():              "signed",
	reflect.TypeFor[CachePolicySpec]():         "a cache policy",
	reflect.TypeFor[OriginRequestPolicySpec](): "an origin request policy",
	reflect.TypeFor[KeyGroupSpec]():            "a key group",
	reflect.TypeFor[PublicKeySpec]():           "a public key",
	reflect.TypeFor[KeyList]():                 "a list of names",
}

func unknownField(key string, t reflect.Type, fields map[string]reflect.Type) string {
	where := sectionNames[t]
	if where == "" {
		where = t.Name()
	}
	msg := fmt.Sprintf("unknown field %q in %s", key, where)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg + " (known fields: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
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

// firstKey returns a mapping's first key, whose position is where a reader
// sees the mapping start, or node itself.
func firstKey(node ast.Node) ast.Node {
	switch n := node.(type) {
	case *ast.MappingNode:
		if len(n.Values) > 0 {
			return n.Values[0].Key
		}
	case *ast.MappingValueNode:
		return n.Key
	}
	return node
}
