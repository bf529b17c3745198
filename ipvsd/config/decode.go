package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// The decoder turns a YAML node tree into the configuration's types
// strictly: an unknown or repeated key, a value of the wrong kind, a
// number out of range, a bool spelt yes or on, are each an error that
// names the line, the column and the field. It records where each field
// was, so that validation, which runs on the decoded values, names lines
// too. yaml.v3's own decoder is lenient inside custom unmarshalers and
// reports positions only for type errors, hence this one.

// pos is a place in the file.
type pos struct{ line, column int }

// report collects the errors of one source and the places of its fields.
type report struct {
	file    string
	places  map[string]pos // field path -> place of its value
	errs    Errors
	seen    map[Error]bool                    // the errors recorded, so that each is once
	lost    int                               // errors past maxRecorded
	checked map[check.Key]bool                // the check definitions validated
	defs    map[defBucket][]*check.Definition // the check definitions, shared
	nodes   int                               // nodes decoded, against budget
	depth   int                               // of the node being decoded, against maxDepth
	budget  int                               // most nodes the document may expand to
	// broken are the fields that did not decode, once validation runs:
	// what validation finds there or below follows from it, and is not
	// reported again.
	broken map[string]bool
}

// maxRecorded bounds the errors kept of one source: a file of a million
// wrong lines is refused just as well with a thousand of them.
const maxRecorded = 1000

func newReport(file string) *report {
	return &report{file: file, places: map[string]pos{}, seen: map[Error]bool{}}
}

// setBudget bounds the nodes that the document root may expand to
// through aliases: a few times its own, which leaves room for anchors of
// shared values, where a YAML bomb (a few lines that alias lists of
// lists) would decode to billions of values.
func (r *report) setBudget(root *yaml.Node) {
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		c := 1
		for _, m := range n.Content {
			c += count(m)
		}
		return c
	}
	r.budget = 4*count(root) + 100_000
}

// at returns the place of the field path, or of its nearest parent that
// has one.
func (r *report) at(path string) pos {
	for {
		if p, ok := r.places[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return r.places[""]
		}
		path = path[:i]
	}
}

// addf records a problem of the field path, once: the checks of a
// virtual server are resolved for each of its real servers, and a
// problem of theirs is one problem.
func (r *report) addf(path, format string, args ...any) {
	for q := path; r.broken != nil; {
		if r.broken[q] {
			return
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	p := r.at(path)
	e := Error{File: r.file, Line: p.line, Column: p.column, Field: path, Message: fmt.Sprintf(format, args...)}
	r.add(e)
}

func (r *report) add(e Error) {
	switch {
	case r.seen[e]:
	case len(r.errs) == maxRecorded:
		r.lost++
	default:
		r.seen[e] = true
		r.errs = append(r.errs, &e)
	}
}

// validating marks the end of decoding: the fields with problems so far
// are broken.
func (r *report) validating() {
	r.broken = map[string]bool{}
	for _, e := range r.errs {
		r.broken[e.Field] = true
	}
}

// err returns the problems found, or nil.
func (r *report) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	if r.lost > 0 {
		r.errs = append(r.errs, &Error{File: r.file, Message: fmt.Sprintf("and %d more problems", r.lost)})
		r.lost = 0
	}
	return r.errs
}

// nodeDecoder is a type that decodes itself from a node, such as one
// that takes a string or a list. It reports its own problems.
type nodeDecoder interface {
	decodeNode(r *report, path string, n *yaml.Node)
}

var (
	nodeDecoderType     = reflect.TypeFor[nodeDecoder]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// join returns the path of a field of path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// maxDepth bounds how deep values nest: the schema needs a few levels,
// and an alias of a value that holds it would nest forever.
const maxDepth = 32

// decode decodes n into v (addressable) at the field path.
func (r *report) decode(n *yaml.Node, v reflect.Value, path string) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		r.addf(path, "nested more than %d levels deep", maxDepth)
		return
	}
	r.nodes++
	if r.nodes > r.budget {
		if r.nodes == r.budget+1 {
			r.addf(path, "the document expands to more than %d values (aliases of aliases?)", r.budget)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		r.decode(n.Alias, v, path)
		return
	}
	if _, ok := r.places[path]; !ok {
		r.places[path] = pos{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero() // an empty value is the default, as if the key were absent
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		r.decode(n, v.Elem(), path)
		return
	}
	if v.CanAddr() {
		switch p := v.Addr(); {
		case p.Type().Implements(nodeDecoderType):
			p.Interface().(nodeDecoder).decodeNode(r, path, n)
			return
		case p.Type().Implements(textUnmarshalerType):
			if s, ok := r.scalar(n, path); ok {
				if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
					r.addf(path, "%s", err)
				}
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		r.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			r.addf(path, "want a list, not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			r.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		r.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := r.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := r.scalar(n, path)
		switch {
		case !ok:
		case s == "true":
			v.SetBool(true)
		case s == "false":
			v.SetBool(false)
		default:
			r.addf(path, "%q is not a bool: want true or false", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s, ok := r.scalar(n, path); ok {
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil {
				r.addf(path, "%q is not an integer of %d bits", s, v.Type().Bits())
				return
			}
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if s, ok := r.scalar(n, path); ok {
			u, err := strconv.ParseUint(s, 10, v.Type().Bits())
			if err != nil {
				r.addf(path, "%q is not a whole number from 0 to %d", s, uint64(math.MaxUint64)>>(64-v.Type().Bits()))
				return
			}
			v.SetUint(u)
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// scalar returns the text of a scalar node, or reports that n is not one.
func (r *report) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		r.addf(path, "want a single value, not %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// describe names the kind of a node for an error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return describe(n.Alias)
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// decodeMap decodes a mapping of strings to scalars.
func (r *report) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		r.addf(path, "want a mapping, not %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := r.scalar(k, path)
		if !ok {
			continue
		}
		kp := join(path, key)
		r.places[kp] = pos{k.Line, k.Column}
		if m.MapIndex(reflect.ValueOf(key)).IsValid() {
			r.addf(kp, "given twice")
			continue
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		r.decode(val, ev, kp)
		m.SetMapIndex(reflect.ValueOf(key), ev)
	}
	v.Set(m)
}

// decodeStruct decodes a mapping into a struct by its fields' yaml tags.
func (r *report) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		r.addf(path, "want a mapping, not %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			r.addf(path, "merge keys (<<) are not supported: repeat the fields, or use an anchor for a whole value")
			continue
		}
		key, ok := r.scalar(k, path)
		if !ok {
			continue
		}
		kp := join(path, key)
		r.places[kp] = pos{k.Line, k.Column}
		idx, known := fields.index[key]
		switch {
		case !known:
			r.addf(kp, "unknown field%s", suggest(key, fields.names))
			continue
		case seen[key]:
			r.addf(kp, "given twice")
			continue
		}
		seen[key] = true
		// The value's place is the key's, so that errors point at the
		// line that names the field, even for a list below it.
		r.decode(val, v.FieldByIndex(idx), kp)
	}
}

// structFields are the YAML keys of a struct type.
type structFields struct {
	index map[string][]int // key -> field index path (through inline structs)
	names []string
}

// knownFields caches fieldsOf.
var knownFields sync.Map // reflect.Type -> structFields

// fieldsOf returns the keys of struct type t: its fields' yaml tag names,
// with those of `yaml:",inline"` fields merged in; "-" and unexported
// fields are not keys.
func fieldsOf(t reflect.Type) structFields {
	if fs, ok := knownFields.Load(t); ok {
		return fs.(structFields)
	}
	fs := structFields{index: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(opts, "inline") {
				walk(f.Type, idx)
				continue
			}
			if name == "-" || name == "" {
				continue
			}
			fs.index[name] = idx
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	knownFields.Store(t, fs)
	return fs
}
