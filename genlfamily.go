package ipvs

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// genlFamily is the Generic Netlink family of IPVS as the kernel
// registered it: its ID changes when ip_vs is loaded again.
type genlFamily struct {
	id      uint16
	version uint8
}

func (c *Client) currentFamily() genlFamily {
	v := c.family.Load()
	return genlFamily{id: uint16(v), version: uint8(v >> 16)}
}

func (c *Client) setFamily(f genlFamily) { c.family.Store(uint32(f.id) | uint32(f.version)<<16) }

// familyName is the operand of the controller's GETFAMILY request.
type familyName string

func (n familyName) encode(b []byte) []byte {
	w := attrWriter{b: b}
	w.str(nlmsg.CtrlAttrFamilyName, string(n))
	return w.b
}

var reqFamily = request{opLookupFamily, nlmsg.CtrlCmdGetFamily, flagsGet, nlmsg.CtrlCmdNewFamily, poolDefault}

// lookupFamily asks the kernel's Generic Netlink controller for the IPVS
// family, through the same exchange as every other request. A lookup of a
// missing family may load ip_vs through the kernel's module alias; if
// there is none, the error matches ErrNoIPVS.
func lookupFamily(ctx context.Context, cn *conn, name string) (genlFamily, error) {
	var f genlFamily
	ctrl := genlFamily{id: nlmsg.CtrlFamilyID, version: nlmsg.CtrlVersion}
	got, err := roundTrip(ctx, cn, ctrl, reqFamily, familyName(name), func(p []byte) error {
		a := attrs{b: p}
		for a.next() {
			switch a.typ {
			case nlmsg.CtrlAttrFamilyID:
				f.id = a.u16("controller FAMILY_ID")
			case nlmsg.CtrlAttrVersion:
				f.version = uint8(a.u32("controller VERSION"))
			}
		}
		return a.err
	})
	switch {
	case errors.Is(err, syscall.ENOENT):
		return f, fmt.Errorf("%w: %w", ErrNoIPVS, err)
	case err != nil:
		return f, fmt.Errorf("look up generic netlink family %q: %w", ipvsh.GenlName, err)
	case got == 0 || f.id == 0:
		return f, fmt.Errorf("look up generic netlink family %q: the controller's reply holds no family ID", name)
	}
	return f, nil
}

// refreshFamily looks the family up again after a request under family
// stale met ENOENT (cause). It reports whether the ID changed, so that
// the request is worth sending again; if the family is gone, it returns
// an error matching ErrNoIPVS, and else cause.
func (c *Client) refreshFamily(ctx context.Context, cn *conn, stale genlFamily, cause error) (changed bool, err error) {
	f, err := lookupFamily(ctx, cn, ipvsh.GenlName)
	if err != nil {
		if errors.Is(err, ErrNoIPVS) {
			return false, err
		}
		return false, cause
	}
	if f == stale {
		return false, cause
	}
	c.setFamily(f)
	return true, nil
}
