package config

import (
	"slices"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// The accessors of a validated virtual server: what it means once every
// default is applied. They are only meaningful for a virtual server that
// Parse or ParseVirtualServer returned.

// Backend is a real server of a virtual server with every default
// applied.
type Backend struct {
	// Destination is the real server as IPVS holds it, with the weight
	// configured.
	Destination ipvs.Destination
	// Alpha is whether it starts as failed until its checks first pass.
	Alpha bool
	// Checks are its checks, as package check runs them; none means it
	// is always up. Real servers whose checks resolve to the same
	// definition share it: it is read-only.
	Checks               []*check.Definition
	NotifyUp, NotifyDown *Command
}

// Policy is what becomes of a real server that fails its checks.
type Policy uint8

// Possible Policy values.
const (
	// PolicyDrain takes it out of the desired table, so that it drains:
	// weight 0 until its connections end, then removed.
	PolicyDrain Policy = iota
	// PolicyRemove removes it at once.
	PolicyRemove
	// PolicyInhibit keeps it in the table at weight 0.
	PolicyInhibit
)

// String returns "drain", "remove" or "inhibit".
func (p Policy) String() string { return [...]string{"drain", "remove", "inhibit"}[p] }

// Compact drops what the accessors have resolved of each valid virtual
// server from its fields as written: its real servers and its checks,
// which Backends holds, resolved, for as long as a director runs it.
// Those fields are then empty; Backends and the other accessors answer
// as before.
func (c *Config) Compact() {
	for i := range c.VirtualServers {
		c.VirtualServers[i].Compact()
	}
}

// Compact is Config.Compact for one virtual server; one that did not
// validate keeps its fields.
func (vs *VirtualServer) Compact() {
	if vs.resolved == nil {
		return
	}
	vs.RealServers, vs.Checks = nil, nil
}

// Service returns the virtual service as IPVS holds it.
func (vs *VirtualServer) Service() ipvs.Service { return vs.resolved.service }

// Backends returns the real servers, in the order of the configuration.
func (vs *VirtualServer) Backends() []Backend { return vs.resolved.backends }

// Sorry returns the sorry server, if there is one.
func (vs *VirtualServer) Sorry() (ipvs.Destination, bool) {
	if vs.resolved.sorry == nil {
		return ipvs.Destination{}, false
	}
	return *vs.resolved.sorry, true
}

// FailurePolicy returns what becomes of a real server that fails: as
// given, else remove for UDP and SCTP services, whose flows never end by
// themselves, and drain for the others.
func (vs *VirtualServer) FailurePolicy() Policy {
	switch {
	case vs.OnFailure == "remove":
		return PolicyRemove
	case vs.OnFailure == "inhibit", vs.InhibitOnFailure != nil && *vs.InhibitOnFailure:
		return PolicyInhibit
	case vs.OnFailure == "drain":
		return PolicyDrain
	}
	switch vs.resolved.service.Protocol {
	case ipvs.ProtocolUDP, ipvs.ProtocolSCTP:
		return PolicyRemove
	}
	return PolicyDrain
}

// QuorumWeight returns the quorum, 1 by default.
func (vs *VirtualServer) QuorumWeight() uint32 {
	if vs.Quorum == nil {
		return 1
	}
	return *vs.Quorum
}

// Selects reports whether a director of this node name and labels
// applies the virtual server.
func (vs *VirtualServer) Selects(node string, labels map[string]string) bool {
	if len(vs.Nodes) > 0 && !slices.Contains(vs.Nodes, node) {
		return false
	}
	for k, v := range vs.NodeSelector {
		if have, ok := labels[k]; !ok || have != v {
			return false
		}
	}
	return true
}

// SyncEvery returns the sync interval, DefaultSyncInterval if not set.
func (d *Director) SyncEvery() time.Duration {
	if d.SyncInterval == nil {
		return DefaultSyncInterval
	}
	return time.Duration(*d.SyncInterval)
}

// HookDeadline returns the hook timeout, DefaultHookTimeout if not set.
func (d *Director) HookDeadline() time.Duration {
	if d.HookTimeout == nil {
		return DefaultHookTimeout
	}
	return time.Duration(*d.HookTimeout)
}

// DrainLimit returns the drain timeout, 0 (none) if not set.
func (d *Director) DrainLimit() time.Duration {
	if d.DrainTimeout == nil {
		return 0
	}
	return time.Duration(*d.DrainTimeout)
}
