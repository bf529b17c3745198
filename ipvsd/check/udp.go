package check

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// datagrams holds buffers for UDP and DNS replies, reused across probes.
var datagrams = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// probeUDP sends the payload on a connected socket and waits for a
// reply, an ICMP error (which the kernel reports to the next read), or
// the end of the timeout.
func (s *spec) probeUDP(ctx context.Context) Outcome {
	c, release, err := s.connect(ctx, "udp")
	if err != nil {
		return Outcome{Err: err}
	}
	defer release()
	if _, err := c.Write(s.def.UDP.Send); err != nil {
		return Outcome{Err: probeErr(ctx, "send", err)}
	}
	bp := datagrams.Get().(*[]byte)
	defer datagrams.Put(bp)
	n, err := c.Read(*bp)
	if err != nil {
		perr := probeErr(ctx, "receive", err)
		if errors.Is(perr, ErrTimeout) && !s.def.UDP.RequireReply {
			// Silence is an answer: no port unreachable came back.
			return Outcome{}
		}
		return Outcome{Err: perr}
	}
	return Outcome{Err: judgeUDP(&s.def.UDP, (*bp)[:n])}
}

// judgeUDP judges a reply against the check's expectations.
func judgeUDP(u *UDPCheck, reply []byte) error {
	if !u.RequireReply {
		return nil
	}
	if len(reply) < u.MinReply || u.MaxReply != 0 && len(reply) > u.MaxReply {
		return mismatch("reply", strconv.Itoa(len(reply))+" bytes, want "+strconv.Itoa(u.MinReply)+"–"+maxText(u.MaxReply))
	}
	n := min(len(reply), len(u.Expect))
	for i := range n {
		mask := byte(0xff)
		if len(u.ExpectMask) > 0 {
			mask = u.ExpectMask[i]
		}
		if reply[i]&mask != u.Expect[i]&mask {
			return mismatch("reply", "byte "+strconv.Itoa(i)+" differs from expect")
		}
	}
	return nil
}

// maxText writes a bound, zero being none.
func maxText(n int) string {
	if n == 0 {
		return "any"
	}
	return strconv.Itoa(n)
}
