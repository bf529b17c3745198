//go:build integration && linux

package ipvs

import (
	"context"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/ctnetlink"
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
	m, _, err := newConntrackMatcher([]ConntrackFilter{f})
	if err != nil {
		return 0, err
	}
	family, fi := uint8(unix.AF_INET), 0
	if !m.Families[0] {
		family, fi = unix.AF_INET6, 1
	}
	d := m.DumpFilter(fi)
	d.OrigFlags |= ctnetlink.FilterIPDst
	d.ReplyFlags |= ctnetlink.FilterIPSrc
	s, err := dialNetfilter()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	cn := newConn(s, DefaultReplyTimeout, DefaultReceiveBufferSize, new(atomic.Bool))
	seq := cn.next()
	n := 0
	err = cn.exchange(ctx, ctnetlink.AppendDump(nil, seq, family, d), seq, seq, ctnetlink.TypeEntry, false, func(nlmsg.Header, []byte) error {
		n++
		return nil
	})
	return n, err
}
