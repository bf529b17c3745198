package schema

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Desired converts the table's services to the library's, for a plan. The
// read-only fields (stats, connection counts) are ignored. An error names
// the line the service or destination was read from.
func (t *Table) Desired() ([]ipvs.VirtualServer, error) {
	out := make([]ipvs.VirtualServer, 0, len(t.Services))
	for i := range t.Services {
		s := &t.Services[i]
		v, err := s.desired()
		if err != nil {
			return nil, fmt.Errorf("%sservices[%d]: %w", lineOf(s.Line), i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// lineOf is the prefix of an error about what was read at line n.
func lineOf(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", n)
}

func (s *Service) desired() (ipvs.VirtualServer, error) {
	var v ipvs.VirtualServer
	svc := &v.Service
	var err error
	if svc.Family, err = lookup("family", s.Family, ipvs.FamilyIPv4, ipvs.FamilyIPv6); err != nil && s.Family != "" {
		return v, err
	}
	if s.FWMark == 0 {
		if svc.Protocol, err = lookup("protocol", s.Protocol, ipvs.ProtocolTCP, ipvs.ProtocolUDP, ipvs.ProtocolSCTP); err != nil {
			return v, err
		}
		if svc.Address, err = netip.ParseAddr(s.Address); err != nil {
			return v, fmt.Errorf("invalid address %q", s.Address)
		}
		svc.Port = s.Port
	} else if s.Protocol != "" {
		if svc.Protocol, err = lookup("protocol", s.Protocol, ipvs.ProtocolTCP, ipvs.ProtocolUDP, ipvs.ProtocolSCTP); err != nil {
			return v, err
		}
	}
	svc.FWMark, svc.Scheduler, svc.PersistenceEngine = s.FWMark, s.Scheduler, s.PersistenceEngine
	for _, name := range s.Flags {
		f, err := lookup("flag", name, ipvs.FlagPersistent, ipvs.FlagHashed, ipvs.FlagOnePacket,
			ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3)
		if err != nil {
			return v, err
		}
		svc.Flags |= f &^ ipvs.FlagHashed
	}
	svc.Timeout = time.Duration(s.Timeout) * time.Second
	if s.Netmask != "" {
		f := svc.Family
		if f == 0 && svc.Address.Is6() {
			f = ipvs.FamilyIPv6
		}
		if svc.Netmask, err = parseMask(f, s.Netmask); err != nil {
			return v, err
		}
	}
	for j := range s.Destinations {
		dst, err := s.Destinations[j].desired()
		if err != nil {
			return v, fmt.Errorf("destinations[%d] (line %d): %w", j, s.Destinations[j].Line, err)
		}
		v.Destinations = append(v.Destinations, dst)
	}
	return v, nil
}

func (d *Destination) desired() (ipvs.Destination, error) {
	var out ipvs.Destination
	var err error
	if out.Address, err = netip.ParseAddr(d.Address); err != nil {
		return out, fmt.Errorf("invalid address %q", d.Address)
	}
	out.Port, out.Weight, out.UpperThreshold, out.LowerThreshold = d.Port, d.Weight, d.UpperThreshold, d.LowerThreshold
	if out.Forward, err = lookup("forward", d.Forward, ipvs.ForwardMasquerade, ipvs.ForwardLocalNode,
		ipvs.ForwardTunnel, ipvs.ForwardDirectRoute, ipvs.ForwardBypass); err != nil {
		return out, err
	}
	if d.TunnelType != "" {
		if out.TunnelType, err = lookup("tunnelType", d.TunnelType, ipvs.TunnelIPIP, ipvs.TunnelGUE, ipvs.TunnelGRE); err != nil {
			return out, err
		}
	}
	out.TunnelPort = d.TunnelPort
	if d.TunnelFlags != "" {
		if out.TunnelFlags, err = lookup("tunnelFlags", d.TunnelFlags, ipvs.TunnelFlags(0), ipvs.TunnelChecksum,
			ipvs.TunnelRemoteChecksum, ipvs.TunnelChecksum|ipvs.TunnelRemoteChecksum); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Encode writes t as JSON (compact, or indented if pretty) or YAML, with a
// final newline.
func Encode(t *Table, yamlOut, pretty bool) ([]byte, error) {
	var js []byte
	var err error
	if pretty && !yamlOut {
		js, err = json.MarshalIndent(t, "", "  ")
	} else {
		js, err = json.Marshal(t)
	}
	if err != nil {
		return nil, err
	}
	if yamlOut {
		return jsonToYAML(js)
	}
	return append(js, '\n'), nil
}

// DesiredDaemons converts the table's daemons.
func (t *Table) DesiredDaemons() ([]ipvs.Daemon, error) {
	out := make([]ipvs.Daemon, 0, len(t.Daemons))
	for i, d := range t.Daemons {
		st, err := lookup("state", d.State, ipvs.DaemonMaster, ipvs.DaemonBackup)
		if err != nil {
			return nil, fmt.Errorf("%sdaemons[%d]: %w", lineOf(d.Line), i, err)
		}
		od := ipvs.Daemon{State: st, Interface: d.Interface, SyncID: d.SyncID, MaxLength: d.MaxLength, Port: d.Port, TTL: d.TTL}
		if d.Group != "" {
			if od.Group, err = netip.ParseAddr(d.Group); err != nil {
				return nil, fmt.Errorf("%sdaemons[%d]: invalid group %q", lineOf(d.Line), i, d.Group)
			}
		}
		out = append(out, od)
	}
	return out, nil
}
