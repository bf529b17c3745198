package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ipvs-go/ipvs"
)

// MaxSize is the largest configuration read: a thousand virtual servers
// of ten real servers each take a megabyte.
const MaxSize = 64 << 20

// Config is a configuration file read and validated, with every default
// applied.
type Config struct {
	// Source is where it was read from, such as the file's path.
	Source string
	File
}

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse reads and validates a configuration; source names it in errors.
// The error is an Errors that lists every problem found, each with its
// line and field.
func Parse(source string, data []byte) (*Config, error) {
	r := newReport(source)
	root := r.document(data)
	if root == nil {
		return nil, r.err()
	}
	c := &Config{Source: source}
	if !hasKey(root, "virtual_servers") {
		r.addf("", "no virtual_servers: a configuration lists its virtual servers, \"virtual_servers: []\" for none")
		return nil, r.err()
	}
	r.decode(root, reflect.ValueOf(&c.File).Elem(), "")
	if r.nodes > r.budget {
		return nil, r.err()
	}
	r.validating()
	c.Director.validate(r, "director")
	names := map[string]int{}
	ids := map[string]int{}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		path := fmt.Sprintf("virtual_servers[%d]", i)
		vs.validate(r, path)
		if vs.resolved == nil {
			continue
		}
		name := vs.DisplayName()
		if j, twice := names[name]; twice {
			r.addf(join(path, "name"), "%q is the name of virtual_servers[%d] too", name, j)
		}
		names[name] = i
		id := vs.resolved.service.String()
		if j, twice := ids[id]; twice {
			r.addf(path, "%s is virtual_servers[%d] too", id, j)
		}
		ids[id] = i
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseVirtualServer reads and validates one virtual server, as a YAML
// mapping of its fields alone: the unit that a store keeps under one
// key. source names it in errors.
func ParseVirtualServer(source string, data []byte) (*VirtualServer, error) {
	r := newReport(source)
	root := r.document(data)
	if root == nil {
		return nil, r.err()
	}
	vs := &VirtualServer{}
	r.decode(root, reflect.ValueOf(vs).Elem(), "")
	if r.nodes <= r.budget {
		r.validating()
		vs.validate(r, "")
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return vs, nil
}

// document parses data as one YAML document and returns its root
// mapping, or nil after recording why not.
func (r *report) document(data []byte) *yaml.Node {
	if len(data) > MaxSize {
		r.addf("", "larger than %d MiB", MaxSize>>20)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			r.addf("", "is empty")
		} else {
			r.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.places[""] = pos{extra.Line, extra.Column}
		r.addf("", "a second YAML document: a configuration is one")
		return nil
	} else if !errors.Is(err, io.EOF) {
		r.syntax(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	r.places[""] = pos{root.Line, root.Column}
	r.setBudget(root)
	if root.Kind != yaml.MappingNode {
		r.addf("", "want a mapping of fields, not %s", describe(root))
		return nil
	}
	return root
}

// syntax records a YAML syntax error, whose text has its line.
func (r *report) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	r.add(Error{File: r.file, Line: line, Column: 1, Message: msg})
}

// hasKey reports whether mapping n has the key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// DisplayName returns the virtual server's name, or the one made of its
// identity when it has none, such as "tcp-192.0.2.10-80".
func (vs *VirtualServer) DisplayName() string {
	if vs.Name != "" {
		return vs.Name
	}
	if vs.resolved == nil {
		return ""
	}
	s := vs.resolved.service
	if s.FWMark != 0 {
		f := "inet"
		if s.Family == ipvs.FamilyIPv6 {
			f = "inet6"
		}
		return fmt.Sprintf("fwmark-%d-%s", s.FWMark, f)
	}
	return fmt.Sprintf("%s-%s-%d", s.Protocol, s.Address, s.Port)
}
