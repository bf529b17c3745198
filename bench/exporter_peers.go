//go:build linux

package main

import (
	"strconv"
	"strings"

	"github.com/moby/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// nodeIPVS is node_exporter's ipvs collector (collector/ipvs_linux.go),
// written again for the bench: the global counters of
// /proc/net/ip_vs_stats, and per backend of /proc/net/ip_vs its active and
// inactive connections and weight, summed over the backends that share
// the labels (all six by default), served through a registry.
type nodeIPVS struct {
	fs                                                                          procfs.FS
	connections, incomingPackets, outgoingPackets, incomingBytes, outgoingBytes *prometheus.Desc
	active, inactive, weight                                                    *prometheus.Desc
}

var nodeBackendLabels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}

func newNodeIPVS() (*nodeIPVS, error) {
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		return nil, err
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("node_ipvs_"+name, help, labels, nil)
	}
	return &nodeIPVS{fs: fs,
		connections:     d("connections_total", "The total number of connections made."),
		incomingPackets: d("incoming_packets_total", "The total number of incoming packets."),
		outgoingPackets: d("outgoing_packets_total", "The total number of outgoing packets."),
		incomingBytes:   d("incoming_bytes_total", "The total amount of incoming data."),
		outgoingBytes:   d("outgoing_bytes_total", "The total amount of outgoing data."),
		active:          d("backend_connections_active", "The current active connections by local and remote address.", nodeBackendLabels...),
		inactive:        d("backend_connections_inactive", "The current inactive connections by local and remote address.", nodeBackendLabels...),
		weight:          d("backend_weight", "The current backend weight by local and remote address.", nodeBackendLabels...),
	}, nil
}

func (c *nodeIPVS) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.incomingPackets, c.outgoingPackets, c.incomingBytes,
		c.outgoingBytes, c.active, c.inactive, c.weight} {
		ch <- d
	}
}

func (c *nodeIPVS) Collect(ch chan<- prometheus.Metric) {
	stats, err := c.fs.IPVSStats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.connections, err)
		return
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.connections, stats.Connections}, {c.incomingPackets, stats.IncomingPackets}, {c.outgoingPackets, stats.OutgoingPackets},
		{c.incomingBytes, stats.IncomingBytes}, {c.outgoingBytes, stats.OutgoingBytes}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	backends, err := c.fs.IPVSBackendStatus()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.active, err)
		return
	}
	type sum struct{ active, inactive, weight uint64 }
	sums := map[string]sum{}
	labels := map[string][]string{}
	for _, b := range backends {
		local := ""
		if b.LocalAddress.String() != "<nil>" {
			local = b.LocalAddress.String()
		}
		kv := []string{local, strconv.FormatUint(uint64(b.LocalPort), 10), b.RemoteAddress.String(),
			strconv.FormatUint(uint64(b.RemotePort), 10), b.Proto, b.LocalMark}
		key := strings.Join(kv, "-")
		s := sums[key]
		s.active += b.ActiveConn
		s.inactive += b.InactConn
		s.weight += b.Weight
		sums[key] = s
		labels[key] = kv
	}
	for key, s := range sums {
		kv := labels[key]
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(s.active), kv...)
		ch <- prometheus.MustNewConstMetric(c.inactive, prometheus.GaugeValue, float64(s.inactive), kv...)
		ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, float64(s.weight), kv...)
	}
}

// telegrafMetric is what telegraf's accumulator receives: a measurement's
// tags and fields.
type telegrafMetric struct {
	name   string
	tags   map[string]string
	fields map[string]any
}

// telegrafGather is telegraf's inputs.ipvs Gather on moby/ipvs: list the
// services, then each one's destinations, building each object's tags
// and fields. What telegraf's output plugins do with them is not counted.
func telegrafGather(h *ipvs.Handle) ([]telegrafMetric, error) {
	svcs, err := h.GetServices()
	if err != nil {
		return nil, err
	}
	var out []telegrafMetric
	for _, s := range svcs {
		tags := telegrafServiceTags(s)
		st := s.Stats
		out = append(out, telegrafMetric{"ipvs_virtual_server", tags, map[string]any{
			"connections": st.Connections, "pkts_in": st.PacketsIn, "pkts_out": st.PacketsOut,
			"bytes_in": st.BytesIn, "bytes_out": st.BytesOut, "pps_in": st.PPSIn, "pps_out": st.PPSOut, "cps": st.CPS,
		}})
		dests, err := h.GetDestinations(s)
		if err != nil {
			return nil, err
		}
		for _, d := range dests {
			dt := map[string]string{"address": d.Address.String(), "port": strconv.Itoa(int(d.Port)),
				"address_family": telegrafFamily(d.AddressFamily)}
			for k, v := range tags {
				switch k {
				case "address", "port", "protocol", "fwmark":
					dt["virtual_"+k] = v
				}
			}
			ds := d.Stats
			out = append(out, telegrafMetric{"ipvs_real_server", dt, map[string]any{
				"active_connections": d.ActiveConnections, "inactive_connections": d.InactiveConnections,
				"connections": ds.Connections, "pkts_in": ds.PacketsIn, "pkts_out": ds.PacketsOut,
				"bytes_in": ds.BytesIn, "bytes_out": ds.BytesOut, "pps_in": ds.PPSIn, "pps_out": ds.PPSOut, "cps": ds.CPS,
			}})
		}
	}
	return out, nil
}

func telegrafServiceTags(s *ipvs.Service) map[string]string {
	tags := map[string]string{"sched": s.SchedName, "netmask": strconv.Itoa(int(s.Netmask)),
		"address_family": telegrafFamily(s.AddressFamily)}
	if s.FWMark > 0 {
		tags["fwmark"] = strconv.Itoa(int(s.FWMark))
	} else {
		tags["address"] = s.Address.String()
		tags["port"] = strconv.Itoa(int(s.Port))
		tags["protocol"] = map[uint16]string{6: "tcp", 17: "udp", 132: "sctp"}[s.Protocol]
	}
	return tags
}

func telegrafFamily(f uint16) string {
	if f == 10 { // AF_INET6
		return "inet6"
	}
	return "inet"
}
