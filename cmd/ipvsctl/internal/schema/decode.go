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

// Decode reads a table in YAML or JSON (JSON is YAML: one parser reads
// both, with the same rules). It is strict, so that nothing in the file
// passes silently for something else: a key given twice, a key that is
// not a field of the schema (names are case-sensitive), a value of the
// wrong type, an alias, and a second document are errors that name their
// line and column. A file with no document, or a null one, decodes to
// the empty table.
func Decode(data []byte) (*Table, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	t := &Table{}
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &DecodeError{Line: next.Line, Column: next.Column, Msg: "a second document: a table file holds one"}
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	if len(doc.Content) == 0 {
		return t, nil
	}
	if err := decodeNode(doc.Content[0], reflect.ValueOf(t).Elem(), nil); err != nil {
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

func refuse(n *yaml.Node, p *path, format string, args ...any) error {
	return &DecodeError{Line: n.Line, Column: n.Column, Path: p.String(), Msg: fmt.Sprintf(format, args...)}
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

// decodeNode sets v from n, by v's JSON field names.
func decodeNode(n *yaml.Node, v reflect.Value, p *path) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return refuse(n, p, "anchors and aliases are not read in a table file")
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // as JSON's null: the field stays unset
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return decodeNode(n, v.Elem(), p)
	case reflect.Struct:
		return decodeMapping(n, v, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return refuse(n, p, "want a list, not %s", describe(n))
		}
		v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
		for i, c := range n.Content {
			if err := decodeNode(c, v.Index(i), &path{parent: p, index: i}); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return refuse(n, p, "want a single value, not %s", describe(n))
	}
	switch v.Kind() {
	case reflect.String:
		if n.ShortTag() != "!!str" {
			return refuse(n, p, "want a string, not %s (quote it)", describe(n))
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.ShortTag() != "!!bool" || err != nil {
			return refuse(n, p, "want true or false, not %s", describe(n))
		}
		v.SetBool(b)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		u, err := strconv.ParseUint(n.Value, 10, bits)
		if n.ShortTag() != "!!int" || err != nil {
			return refuse(n, p, "want a whole number from 0 to %d, not %s", uint64(1)<<bits-1, describe(n))
		}
		v.SetUint(u)
	default:
		return refuse(n, p, "cannot hold a %s", v.Type())
	}
	return nil
}

// decodeMapping sets the struct v from the mapping n.
func decodeMapping(n *yaml.Node, v reflect.Value, p *path) error {
	if n.Kind != yaml.MappingNode {
		return refuse(n, p, "want a mapping of fields, not %s", describe(n))
	}
	var fields map[string]int
	if f, ok := fieldCache.Load(v.Type()); ok {
		fields = f.(map[string]int)
	} else {
		fields = fieldsOf(v.Type())
		fieldCache.Store(v.Type(), fields)
	}
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(n.Line))
	}
	var seen map[string]*yaml.Node
	if len(n.Content) > 2 {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return refuse(k, p, "a key must be a field name, not %s", describe(k))
		}
		if first, twice := seen[k.Value]; twice {
			return refuse(k, p, "%q is given twice (first at line %d)", k.Value, first.Line)
		}
		if seen != nil {
			seen[k.Value] = k
		}
		f, ok := fields[k.Value]
		if !ok {
			for name := range fields {
				if strings.EqualFold(name, k.Value) {
					return refuse(k, p, "unknown field %q: names are case-sensitive, did you mean %q?", k.Value, name)
				}
			}
			return refuse(k, p, "unknown field %q", k.Value)
		}
		if err := decodeNode(val, v.Field(f), &path{parent: p, field: k.Value}); err != nil {
			return err
		}
	}
	return nil
}

// describe names what a node holds, for an error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return strconv.Quote(v)
	case "!!int":
		return "the number " + v
	case "!!float":
		return "the number " + v
	case "!!bool":
		return "the boolean " + v
	}
	return v
}
