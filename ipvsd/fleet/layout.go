package fleet

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// DefaultPrefix is the key prefix of a fleet unless told otherwise.
const DefaultPrefix = "/ipvsd"

// Layout names the keys of a fleet under its prefix.
type Layout struct {
	prefix string // without a trailing slash
}

// NewLayout returns the layout under prefix, which must start with a
// slash; a trailing slash is dropped.
func NewLayout(prefix string) (Layout, error) {
	p := strings.TrimRight(prefix, "/")
	if !strings.HasPrefix(prefix, "/") || p == "" {
		return Layout{}, fmt.Errorf("etcd prefix %q: want a path such as %s", prefix, DefaultPrefix)
	}
	return Layout{prefix: p}, nil
}

// Prefix returns the fleet's prefix.
func (l Layout) Prefix() string { return l.prefix }

// Config is the prefix of every key of the desired state, which the
// directors watch: the virtual servers and the apply marker.
func (l Layout) Config() string { return l.prefix + "/config/" }

// VirtualServers is the prefix of the virtual servers' keys.
func (l Layout) VirtualServers() string { return l.prefix + "/config/virtual-servers/" }

// VirtualServer is the key of the virtual server named name.
func (l Layout) VirtualServer(name string) string { return l.VirtualServers() + name }

// Marker is the key of the last apply.
func (l Layout) Marker() string { return l.prefix + "/config/apply" }

// Directors is the prefix of the directors' states.
func (l Layout) Directors() string { return l.prefix + "/directors/" }

// Director is the key of the state of the director named node.
func (l Layout) Director(node string) string { return l.Directors() + node }

// nameOf returns the virtual server name of a key under VirtualServers,
// or an error saying why the key can not be one.
func (l Layout) nameOf(key string) (string, error) {
	name, ok := strings.CutPrefix(key, l.VirtualServers())
	if !ok {
		return "", fmt.Errorf("key %q is not under %s", key, l.VirtualServers())
	}
	if err := config.CheckName(name); err != nil {
		return "", fmt.Errorf("key %q: %w", key, err)
	}
	return name, nil
}

// addrPort writes an address and port as the director's status does.
func addrPort(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a.Unmap(), port).String()
}
