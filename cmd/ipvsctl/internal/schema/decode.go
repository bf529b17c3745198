package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// DecodeError is a refusal of a table file, at a line and column.
type DecodeError struct {
	Line, Column int
	// Path is where in the table, such as "services[2].destinations[0]".
	Path string
	Msg  string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("line %d, column %d: %s: %s", e.Line, e.Column, e.Path, e.Msg)
}

// Decode reads a table in YAML or JSON. It is strict, so that nothing in
// the file passes silently for something else: a key given twice, a key
// that is not a field of the schema (names are case-sensitive), a value
// of the wrong type, an anchor or alias, and a second document are errors
// that name their line and column. A file with no document, or a null
// one, decodes to the empty table.
//
// One decoder applies these rules to a stream of events (see events)
// from either of two readers: JSON (a file that starts with '{') is read
// token by token, so that a large table costs little more than itself;
// YAML through go.yaml.in/yaml/v3's node tree of the document.
func Decode(data []byte) (*Table, error) {
	t := &Table{}
	var ev events
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		ev = newJSONEvents(data)
	} else {
		y, empty, err := newYAMLEvents(data)
		if err != nil || empty {
			return t, err
		}
		ev = y
	}
	e, err := ev.next()
	if err != nil {
		return nil, err
	}
	if err := decodeValue(ev, e, reflect.ValueOf(t).Elem(), nil); err != nil {
		return nil, err
	}
	if err := ev.end(); err != nil {
		return nil, err
	}
	return t, nil
}

// path is where a value lies in the table, built only for an error.
type path struct {
	parent *path
	field  string
	index  int
}

func (p *path) String() string {
	if p == nil {
		return ""
	}
	s := p.parent.String()
	if p.field == "" {
		return s + "[" + strconv.Itoa(p.index) + "]"
	}
	if s == "" {
		return p.field
	}
	return s + "." + p.field
}

func refuse(e event, p *path, format string, args ...any) error {
	return &DecodeError{Line: e.line, Column: e.col, Path: p.String(), Msg: fmt.Sprintf(format, args...)}
}

// fieldsOf maps a struct type's JSON names to its field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// fieldCache holds fieldsOf of each struct type met (the schema has a
// few), by reflect.Type.
var fieldCache sync.Map

// decodeValue sets v from the value that begins with e, by v's JSON
// field names.
func decodeValue(ev events, e event, v reflect.Value, p *path) error {
	if e.bad != "" {
		return refuse(e, p, "%s", e.bad)
	}
	if e.kind == evScalar && e.tag == "!!null" {
		return nil // as JSON's null: the field stays unset
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return decodeValue(ev, e, v.Elem(), p)
	case reflect.Struct:
		return decodeMapping(ev, e, v, p)
	case reflect.Slice:
		if e.kind != evSeq {
			return refuse(e, p, "want a list, not %s", e.describe())
		}
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		for i := 0; ; i++ {
			item, err := ev.next()
			if err != nil || item.kind == evEnd {
				return err
			}
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
			if err := decodeValue(ev, item, v.Index(i), &path{parent: p, index: i}); err != nil {
				return err
			}
		}
	}
	if e.kind != evScalar {
		return refuse(e, p, "want a single value, not %s", e.describe())
	}
	switch v.Kind() {
	case reflect.String:
		if e.tag != "!!str" {
			return refuse(e, p, "want a string, not %s (quote it)", e.describe())
		}
		v.SetString(e.value)
	case reflect.Bool:
		b, err := strconv.ParseBool(e.value)
		if e.tag != "!!bool" || err != nil {
			return refuse(e, p, "want true or false, not %s", e.describe())
		}
		v.SetBool(b)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		u, err := strconv.ParseUint(e.value, 10, bits)
		if e.tag != "!!int" || err != nil {
			return refuse(e, p, "want a whole number from 0 to %d, not %s", uint64(1)<<bits-1, e.describe())
		}
		v.SetUint(u)
	default:
		return refuse(e, p, "cannot hold a %s", v.Type())
	}
	return nil
}

// decodeMapping sets the struct v from the mapping that begins with e.
func decodeMapping(ev events, e event, v reflect.Value, p *path) error {
	if e.kind != evMap {
		return refuse(e, p, "want a mapping of fields, not %s", e.describe())
	}
	var fields map[string]int
	if f, ok := fieldCache.Load(v.Type()); ok {
		fields = f.(map[string]int)
	} else {
		fields = fieldsOf(v.Type())
		fieldCache.Store(v.Type(), fields)
	}
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(e.line))
	}
	seen := make(map[string]int, len(fields))
	for {
		k, err := ev.next()
		if err != nil || k.kind == evEnd {
			return err
		}
		if k.bad != "" {
			return refuse(k, p, "%s", k.bad)
		}
		if k.kind != evScalar || k.tag != "!!str" {
			return refuse(k, p, "a key must be a field name, not %s", k.describe())
		}
		if first, twice := seen[k.value]; twice {
			return refuse(k, p, "%q is given twice (first at line %d)", k.value, first)
		}
		seen[k.value] = k.line
		f, ok := fields[k.value]
		if !ok {
			for name := range fields {
				if strings.EqualFold(name, k.value) {
					return refuse(k, p, "unknown field %q: names are case-sensitive, did you mean %q?", k.value, name)
				}
			}
			return refuse(k, p, "unknown field %q", k.value)
		}
		val, err := ev.next()
		if err != nil {
			return err
		}
		if err := decodeValue(ev, val, v.Field(f), &path{parent: p, field: k.value}); err != nil {
			return err
		}
	}
}

// evKind is the kind of an event.
type evKind uint8

const (
	evScalar evKind = iota
	evMap           // the start of a mapping: keys and values follow, then evEnd
	evSeq           // the start of a list: items follow, then evEnd
	evEnd
)

// event is a step through a document: a scalar with its resolved YAML
// tag (!!str, !!int, !!float, !!bool, !!null), the start or the end of a
// collection, where it is.
type event struct {
	kind      evKind
	tag       string
	value     string
	line, col int
	// bad says why the value cannot be read.
	bad string
}

// describe names what an event starts, for an error.
func (e event) describe() string {
	switch e.kind {
	case evMap:
		return "a mapping"
	case evSeq:
		return "a list"
	}
	v := e.value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch e.tag {
	case "!!str":
		return strconv.Quote(v)
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return "the boolean " + v
	}
	return v
}

// events is a document as a stream of events.
type events interface {
	next() (event, error)
	// end checks that nothing follows the document.
	end() error
}

// yamlEvents walks a YAML document's node tree.
type yamlEvents struct {
	dec   *yaml.Decoder
	stack [][]*yaml.Node // the nodes left to walk, innermost last
}

// newYAMLEvents parses the first document of data; empty reports a file
// without one.
func newYAMLEvents(data []byte) (y *yamlEvents, empty bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true, nil
		}
		return nil, false, err
	}
	if len(doc.Content) == 0 {
		return nil, true, nil
	}
	return &yamlEvents{dec: dec, stack: [][]*yaml.Node{doc.Content[:1]}}, false, nil
}

func (y *yamlEvents) next() (event, error) {
	top := len(y.stack) - 1
	if top < 0 {
		return event{}, io.ErrUnexpectedEOF
	}
	if len(y.stack[top]) == 0 {
		y.stack = y.stack[:top]
		return event{kind: evEnd}, nil
	}
	n := y.stack[top][0]
	// The walked nodes are let go, for the collector.
	y.stack[top][0] = nil
	y.stack[top] = y.stack[top][1:]
	e := event{line: n.Line, col: n.Column}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		e.bad = "anchors and aliases are not read in a table file"
		return e, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		e.kind = evMap
		y.stack = append(y.stack, n.Content)
	case yaml.SequenceNode:
		e.kind = evSeq
		y.stack = append(y.stack, n.Content)
	default:
		e.kind, e.tag, e.value = evScalar, n.ShortTag(), n.Value
	}
	return e, nil
}

func (y *yamlEvents) end() error {
	var next yaml.Node
	switch err := y.dec.Decode(&next); {
	case err == nil:
		return &DecodeError{Line: next.Line, Column: next.Column, Msg: "a second document: a table file holds one"}
	case !errors.Is(err, io.EOF):
		return err
	}
	return nil
}
