//go:build integration && linux

package ipvs_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/ipvs-go/ipvs"
)

// rawIPVS sends hand-built requests, with an encoder of its own (mdlayher's
// AttributeEncoder, not the library's), to pin what the kernel does with
// input the client refuses to send.
type rawIPVS struct {
	c *genetlink.Conn
	f genetlink.Family
}

const (
	cmdNewService = 1
	cmdNewDest    = 5
	cmdNewDaemon  = 9
)

// rawAttr is one top-level attribute of a request.
type rawAttr func(ae *netlink.AttributeEncoder)

func newRawIPVS(t *testing.T, ns *netNS) *rawIPVS {
	t.Helper()
	var r rawIPVS
	must(t, ns.in(func() error {
		var err error
		if r.c, err = genetlink.Dial(nil); err != nil {
			return err
		}
		r.f, err = r.c.GetFamily("IPVS")
		return err
	}))
	t.Cleanup(func() { _ = r.c.Close() })
	return &r
}

func (r *rawIPVS) do(cmd uint8, attrs ...rawAttr) error {
	ae := netlink.NewAttributeEncoder()
	for _, a := range attrs {
		a(ae)
	}
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.c.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: r.f.Version}, Data: b},
		r.f.ID, netlink.Request|netlink.Acknowledge)
	return err
}

type nestAttr func(nae *netlink.AttributeEncoder)

func nest(typ uint16, fields ...nestAttr) rawAttr {
	return func(ae *netlink.AttributeEncoder) {
		ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
			for _, f := range fields {
				f(nae)
			}
			return nil
		})
	}
}

func u8Attr(typ uint16, v uint8) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint8(typ, v) }
}
func u16Attr(typ uint16, v uint16) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint16(typ, v) }
}
func u32Attr(typ uint16, v uint32) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint32(typ, v) }
}
func strAttr(typ uint16, s string) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.String(typ, s) }
}
func bytesAttr(typ uint16, b []byte) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Bytes(typ, b) }
}
func be16Attr(typ uint16, v uint16) nestAttr {
	return bytesAttr(typ, binary.BigEndian.AppendUint16(nil, v))
}

func addrBytes(s string) []byte {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		v := a.As4()
		return v[:]
	}
	v := a.As16()
	return v[:]
}

// svcKey4 is the SERVICE nest naming an IPv4 TCP service.
func svcKey4(svc ipvs.Service) rawAttr {
	return nest(1, u16Attr(1, 2), u16Attr(2, 6), bytesAttr(3, addrBytes(svc.Address.String())), be16Attr(4, svc.Port))
}

func flagsAttr() nestAttr { return bytesAttr(7, []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}) }

func svcFull6(addr string, prefix uint32) rawAttr {
	return nest(1, u16Attr(1, 10), u16Attr(2, 6), bytesAttr(3, addrBytes(addr)), be16Attr(4, 80),
		strAttr(6, "rr"), flagsAttr(), u32Attr(8, 0), u32Attr(9, prefix))
}

func svcFull4WithSched(addr, sched string) rawAttr {
	return nest(1, u16Attr(1, 2), u16Attr(2, 6), bytesAttr(3, addrBytes(addr)), be16Attr(4, 80),
		strAttr(6, sched), flagsAttr(), u32Attr(8, 0), bytesAttr(9, []byte{0xff, 0xff, 0xff, 0xff}))
}

func destAttrs(addr string, port uint16, fwd, weight, upper, lower uint32) []nestAttr {
	return []nestAttr{bytesAttr(1, addrBytes(addr)), be16Attr(2, port), u32Attr(3, fwd), u32Attr(4, weight),
		u32Attr(5, upper), u32Attr(6, lower)}
}

func destAttrs6(addr string, port uint16, fwd uint32) []nestAttr {
	return destAttrs(addr, port, fwd, 1, 0, 0)
}

func withAttrs(fields []nestAttr, more ...nestAttr) rawAttr {
	return nest(2, append(append([]nestAttr(nil), fields...), more...)...)
}

func daemonAttrs(state uint32, ifn string, syncID uint32) rawAttr {
	return nest(3, u32Attr(1, state), strAttr(2, ifn), u32Attr(3, syncID))
}
