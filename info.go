package ipvs

import (
	"fmt"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// Info describes the kernel's IPVS.
type Info struct {
	// Version is the IPVS version, such as 1.2.1.
	Version Version
	// ConnectionTableSize is the number of buckets of the connection
	// hash table. Up to Linux 6.12 at least, it is fixed at load by the
	// ip_vs module's conn_tab_bits parameter and shared by all network
	// namespaces; Linux 7.2 reports a table of the namespace's own: 0
	// before the namespace's first service, 256 buckets after it.
	ConnectionTableSize uint32
}

// Version is an IPVS version number.
type Version struct {
	Major, Minor, Patch uint8
}

// String returns the version as "1.2.1".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// decodeInfoMessage decodes the SET_INFO reply to GET_INFO, whose
// attributes are at the top level.
func decodeInfoMessage(msg []byte, info *Info) error {
	p, err := genlPayload(msg)
	if err != nil {
		return err
	}
	*info = Info{}
	a := attrs{b: p}
	for a.next() {
		switch a.typ {
		case ipvsh.InfoAttrVersion:
			v := a.u32("info VERSION")
			info.Version = Version{Major: uint8(v >> 16), Minor: uint8(v >> 8), Patch: uint8(v)}
		case ipvsh.InfoAttrConnTabSize:
			info.ConnectionTableSize = a.u32("info CONN_TAB_SIZE")
		}
	}
	return a.err
}

// Timeouts are the idle timeouts of connections in a network namespace.
//
// In SetTimeouts, a zero field leaves that timeout unchanged, as the
// kernel does. From Timeouts, a zero field means the kernel did not report
// it (it was built without that protocol); a timeout it reports is never
// zero.
type Timeouts struct {
	// TCP is the timeout of established TCP connections.
	TCP time.Duration
	// TCPFin is the timeout of TCP connections after a FIN.
	TCPFin time.Duration
	// UDP is the timeout of UDP flows.
	UDP time.Duration
}

// validate checks timeouts to be set.
func (t *Timeouts) validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"TCP timeout", t.TCP}, {"TCP FIN timeout", t.TCPFin}, {"UDP timeout", t.UDP}} {
		if err := checkSeconds(f.name, f.d); err != nil {
			return err
		}
	}
	return nil
}

// encode writes the SET_CONFIG attributes; zero fields are left out,
// which the kernel treats as unchanged.
func (t *Timeouts) encode(w *attrWriter) {
	for _, f := range []struct {
		typ uint16
		d   time.Duration
	}{{ipvsh.CmdAttrTimeoutTCP, t.TCP}, {ipvsh.CmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsh.CmdAttrTimeoutUDP, t.UDP}} {
		if f.d != 0 {
			w.u32(f.typ, uint32(f.d/time.Second))
		}
	}
}

// decodeTimeoutsMessage decodes the SET_CONFIG reply to GET_CONFIG.
func decodeTimeoutsMessage(msg []byte, t *Timeouts) error {
	p, err := genlPayload(msg)
	if err != nil {
		return err
	}
	*t = Timeouts{}
	a := attrs{b: p}
	for a.next() {
		switch a.typ {
		case ipvsh.CmdAttrTimeoutTCP:
			t.TCP = time.Duration(a.u32("TIMEOUT_TCP")) * time.Second
		case ipvsh.CmdAttrTimeoutTCPFin:
			t.TCPFin = time.Duration(a.u32("TIMEOUT_TCP_FIN")) * time.Second
		case ipvsh.CmdAttrTimeoutUDP:
			t.UDP = time.Duration(a.u32("TIMEOUT_UDP")) * time.Second
		}
	}
	return a.err
}
