//go:build integration && linux

package ipvs

import (
	"context"
	"sync/atomic"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// SetConntrackKernelFilter turns the kernel's filtering of a flush's
// dump on or off, for the kernel tests that prove the flush exact either
// way, and returns what it was.
func SetConntrackKernelFilter(on bool) bool {
	old := conntrackKernelFilter
	conntrackKernelFilter = on
	return old
}

// DumpConntrackFiltered dumps, in the calling thread's namespace, the
// entries that a CTA_FILTER on every field of f lets through, IPv6
// addresses included (which the flush never asks for), and returns how
// many came.
func DumpConntrackFiltered(ctx context.Context, f ConntrackFilter) (int, error) {
	m, err := newConntrackMatcher([]ConntrackFilter{f})
	if err != nil {
		return 0, err
	}
	family, fi := uint8(afInet), 0
	if !m.families[0] {
		family, fi = afInet6, 1
	}
	d := m.dumpFilter(fi)
	d.origFlags |= ctFilterIPDst
	d.replyFlags |= ctFilterIPSrc
	nc, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return 0, err
	}
	s, err := newRawSocket(nc)
	if err != nil {
		_ = nc.Close()
		return 0, err
	}
	defer s.Close()
	cn := newConn(s, DefaultReplyTimeout, DefaultReceiveBufferSize, new(atomic.Bool))
	seq := cn.next()
	n := 0
	err = cn.exchange(ctx, appendCTDump(nil, seq, family, d), seq, seq, ctTypeEntry, false, func(nlmsg.Header, []byte) error {
		n++
		return nil
	})
	return n, err
}
