package collector

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
)

// row is one object's label values (identity labels, the kind's extras,
// netns) and metric values (counters, rates, destination gauges).
type row struct {
	labels [netnsColumn + 1]string
	values [rowValues]float64
}

// rowValues is the number of a row's metric values: five counters, their
// five rates and the four gauges of a destination.
const rowValues = 14

// tableEmitter returns the emitter of the Collector's metrics of the
// table vss: a summer when some identity label is dropped, else direct.
func (c *Collector) tableEmitter(vss []ipvs.VirtualServer) emitter {
	var out emitter
	if c.summing() {
		out = newSummer(&c.d)
	} else {
		dests := 0
		for i := range vss {
			dests += len(vss[i].Destinations)
		}
		out = newDirect(&c.d, len(vss), dests)
	}
	c.emitTable(out, vss)
	return out
}

// emitTable hands out the rows of every wanted service and destination,
// each object once.
func (c *Collector) emitTable(out rowSink, vss []ipvs.VirtualServer) {
	// The kernel may yield an object twice when the table changes during
	// the dump, and a registry refuses a repeated series: each object is
	// written once, by package ipvs's identity.
	seen := make(map[ipvs.ServiceKey]struct{}, len(vss))
	var seenDest map[netip.AddrPort]struct{}
	var r row
	// The names cost a string per object: only where the kinds carry them.
	named := !c.d.sets[kindServiceInfo].summed
	namedDests := c.opts.destinations && !c.d.sets[kindDestInfo].summed
	if c.opts.netns != nil {
		r.labels[netnsColumn] = *c.opts.netns
	}
	for i := range vss {
		vs := &vss[i]
		svc := &vs.Service
		k := svc.Key()
		if _, dup := seen[k]; dup || !c.opts.wanted(k) {
			continue
		}
		seen[k] = struct{}{}
		serviceLabels(&r, k)
		clear(r.labels[len(identityLabels):netnsColumn])
		statsValues(&r, &svc.Stats)
		out.emit(kindService, &r)
		r.labels[len(identityLabels)] = labelValue(svc.Scheduler)
		r.labels[len(identityLabels)+1] = labelValue(svc.PersistenceEngine)
		r.labels[len(identityLabels)+2] = flagsLabel(svc.Flags)
		var name string
		if named || namedDests {
			name = k.String()
		}
		r.labels[len(identityLabels)+3] = name
		out.emit(kindServiceInfo, &r)
		if !c.opts.destinations {
			continue
		}
		if seenDest == nil {
			seenDest = make(map[netip.AddrPort]struct{}, len(vs.Destinations))
		}
		clear(seenDest)
		for j := range vs.Destinations {
			d := vs.Destinations[j].Canonical(k)
			ap := netip.AddrPortFrom(d.Address, d.Port)
			if _, dup := seenDest[ap]; dup {
				continue
			}
			seenDest[ap] = struct{}{}
			clear(r.labels[len(identityLabels):netnsColumn])
			destLabels(&r, &d)
			statsValues(&r, &d.Stats)
			n := 2 * len(counterNames)
			r.values[n] = float64(d.ActiveConnections)
			r.values[n+1] = float64(d.InactiveConnections)
			r.values[n+2] = float64(d.PersistentConnections)
			r.values[n+3] = float64(d.Weight)
			out.emit(kindDest, &r)
			tunnelLabels(&r, &d)
			if namedDests {
				r.labels[len(identityLabels)+4] = name
				r.labels[len(identityLabels)+5] = ap.String()
			}
			out.emit(kindDestInfo, &r)
		}
	}
}

// summing reports whether some kind drops an identity label, so that
// series must be added up.
func (c *Collector) summing() bool {
	return c.d.sets[kindService].summed || c.opts.destinations && c.d.sets[kindDest].summed
}

// serviceLabels fills in the identity labels of the service k
// identifies.
func serviceLabels(r *row, k ipvs.ServiceKey) {
	r.labels[0] = k.Family.String()
	if k.FWMark != 0 {
		r.labels[1], r.labels[2], r.labels[3] = "", "", ""
		r.labels[4] = strconv.FormatUint(uint64(k.FWMark), 10)
		return
	}
	r.labels[1] = k.Protocol.String()
	r.labels[2] = k.Address.String()
	r.labels[3] = strconv.Itoa(int(k.Port))
	r.labels[4] = ""
}

// destLabels fills in the identity labels of a destination in its
// canonical form (ipvs.Destination.Canonical).
func destLabels(r *row, d *ipvs.Destination) {
	r.labels[5] = d.Family.String()
	r.labels[6] = d.Address.String()
	r.labels[7] = strconv.Itoa(int(d.Port))
}

// tunnelLabels fills in the extras of a destination's info; the tunnel's
// settings only for a tunnel, where the kernel reports them.
func tunnelLabels(r *row, d *ipvs.Destination) {
	x := r.labels[len(identityLabels):]
	x[0] = d.Forward.String()
	if d.Forward != ipvs.ForwardTunnel {
		return
	}
	x[1] = d.TunnelType.String()
	if d.TunnelType != ipvs.TunnelIPIP {
		x[2] = strconv.Itoa(int(d.TunnelPort))
		x[3] = d.TunnelFlags.String()
	}
}

// flagsLabel spells a service's flags without "hashed", which the kernel
// sets on every live service; no flags is the empty string.
func flagsLabel(f ipvs.ServiceFlags) string {
	f &^= ipvs.FlagHashed
	if f == 0 {
		return ""
	}
	return f.String()
}

// labelValue returns a name the kernel gave as a label value: Prometheus
// takes only UTF-8, and the kernel takes any bytes (an interface may be
// named in Latin-1), so each byte that is not part of valid UTF-8 is
// written as \xNN, the way Go quotes it. Names that differ stay apart,
// and valid UTF-8, every name in practice, is left as it is.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[0]>>4])
			b.WriteByte(hexDigits[s[0]&0xf])
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

func statsValues(r *row, s *ipvs.Stats) {
	v := r.values[:]
	v[0], v[1], v[2], v[3], v[4] = float64(s.Connections), float64(s.InPackets), float64(s.OutPackets), float64(s.InBytes), float64(s.OutBytes)
	v[5], v[6], v[7], v[8], v[9] = float64(s.ConnectionRate), float64(s.InPacketRate), float64(s.OutPacketRate), float64(s.InByteRate), float64(s.OutByteRate)
}

func daemonLabels(d ipvs.Daemon) []string {
	group := ""
	if d.Group.IsValid() {
		group = d.Group.String()
	}
	return []string{d.State.String(), labelValue(d.Interface), strconv.FormatUint(uint64(d.SyncID), 10), group,
		strconv.Itoa(int(d.Port)), strconv.Itoa(int(d.TTL)), strconv.Itoa(int(d.MaxLength))}
}

// A rowSink takes the rows of a table, one kind at a time.
type rowSink interface {
	emit(k kind, r *row)
}

// An emitter turns the rows of a table into metrics.
type emitter interface {
	rowSink
	// flush sends the metrics of the rows.
	flush(send func(prometheus.Metric))
}

// summer adds up the rows that share the kept labels, and sends the sums
// at the end.
type summer struct {
	d    *descs
	sums [numKinds]map[string]*sum
	key  strings.Builder
}

type sum struct {
	labels []string // in the order of the kind's variable labels
	values [rowValues]float64
}

func newSummer(d *descs) *summer {
	s := &summer{d: d}
	for k := range s.sums {
		s.sums[k] = map[string]*sum{}
	}
	return s
}

func (s *summer) emit(k kind, r *row) {
	set := &s.d.sets[k]
	if len(s.d.families[k]) == 0 {
		return
	}
	s.key.Reset()
	labels := make([]string, 0, len(set.names))
	for _, i := range set.ident {
		labels = append(labels, r.labels[i])
	}
	for _, at := range set.extra {
		labels = append(labels, r.labels[at])
	}
	for _, l := range labels {
		s.key.WriteString(l)
		s.key.WriteByte(0xff) // never in a label value: not UTF-8
	}
	e := s.sums[k][s.key.String()]
	if e == nil {
		e = &sum{labels: labels}
		s.sums[k][s.key.String()] = e
	}
	if k == kindService || k == kindDest {
		for i, v := range r.values {
			e.values[i] += v
		}
	} else {
		e.values[0]++
	}
}

func (s *summer) flush(send func(prometheus.Metric)) {
	for k, m := range s.sums {
		for _, e := range m {
			for _, f := range s.d.families[k] {
				send(prometheus.MustNewConstMetric(f.desc, f.typ, e.values[f.col], e.labels...))
			}
		}
	}
}
