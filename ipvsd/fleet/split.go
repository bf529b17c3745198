package fleet

import (
	"bytes"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// MaxValue is the largest virtual server written to one key: etcd
// refuses a request larger than its --max-request-bytes (1.5 MiB by
// default), and a transaction carries several.
const MaxValue = 512 << 10

// Desired is a whole configuration as the fleet stores it: each virtual
// server's YAML, by name.
type Desired map[string][]byte

// Split validates a configuration file and returns its virtual servers
// as the values of their keys: each the YAML of the file's item, as
// written (with its aliases expanded, so that it stands alone), with its
// name first. A file with a director section is refused: a director's
// settings are its own, not the fleet's.
func Split(source string, data []byte) (Desired, error) {
	cfg, err := config.Parse(source, data)
	if err != nil {
		return nil, err
	}
	if d := cfg.Director; d.Node != "" || len(d.Labels) > 0 || d.SyncInterval != nil || d.DrainTimeout != nil || d.HookTimeout != nil {
		return nil, fmt.Errorf("%s: director: a fleet's configuration holds virtual servers only; each director's settings are in its own file", source)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	root := doc.Content[0]
	var items []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "virtual_servers" {
			items = resolve(root.Content[i+1]).Content
		}
	}
	if len(items) != len(cfg.VirtualServers) {
		return nil, fmt.Errorf("%s: %d virtual servers decoded from %d items", source, len(cfg.VirtualServers), len(items))
	}
	out := make(Desired, len(items))
	for i, item := range items {
		vs := &cfg.VirtualServers[i]
		name := vs.DisplayName()
		value, err := encodeItem(standalone(item), name)
		if err != nil {
			return nil, fmt.Errorf("%s: virtual_servers[%d] (%s): %w", source, i, name, err)
		}
		if len(value) > MaxValue {
			return nil, fmt.Errorf("%s:%d: virtual_servers[%d] (%s): %d bytes, more than a key holds (%d)", source, item.Line, i, name, len(value), MaxValue)
		}
		// What the directors will read must be what the file said.
		if _, err := config.ParseVirtualServer(name, value); err != nil {
			return nil, fmt.Errorf("%s:%d: virtual_servers[%d] (%s) does not stand alone: %w", source, item.Line, i, name, err)
		}
		out[name] = value
	}
	return out, nil
}

// Names returns the names of d, sorted.
func (d Desired) Names() []string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// resolve follows an alias to its node.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// standalone returns a deep copy of n with every alias replaced by a
// copy of what it names, and no anchors, so that it encodes alone.
func standalone(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, m := range n.Content {
		c.Content[i] = standalone(m)
	}
	return &c
}

// encodeItem encodes a virtual server's mapping with its name first.
func encodeItem(item *yaml.Node, name string) ([]byte, error) {
	if item.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	var rest []*yaml.Node
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value != "name" {
			rest = append(rest, item.Content[i], item.Content[i+1])
		}
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: append([]*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: name},
	}, rest...)}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
