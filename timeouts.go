package ipvs

import (
	"context"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

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

// MaxTimeout is the longest connection timeout SetTimeouts sends. The
// kernel refuses a timeout above INT_MAX/HZ seconds with EINVAL; at 1000
// Hz, the most a kernel can be built with, this is that limit, so a
// timeout the client accepts is accepted by every kernel.
const MaxTimeout = 2147483 * time.Second

// timeoutField is one timeout with its attribute and its name.
type timeoutField struct {
	typ  uint16
	name string
	d    *time.Duration
}

func (t *Timeouts) fields() [3]timeoutField {
	return [3]timeoutField{
		{ipvsh.CmdAttrTimeoutTCP, "TCP timeout", &t.TCP},
		{ipvsh.CmdAttrTimeoutTCPFin, "TCP FIN timeout", &t.TCPFin},
		{ipvsh.CmdAttrTimeoutUDP, "UDP timeout", &t.UDP},
	}
}

// timeoutsOp is the operand of SetTimeouts: timeouts to be set, which
// name nothing, since they are the namespace's.
type timeoutsOp Timeouts

func (o timeoutsOp) String() string { return "" }

// validate checks timeouts to be set.
func (o timeoutsOp) validate() error {
	t := Timeouts(o)
	for _, f := range t.fields() {
		if err := checkSeconds(f.name, *f.d, MaxTimeout); err != nil {
			return err
		}
	}
	return nil
}

// encode writes the SET_CONFIG attributes; zero fields are left out,
// which the kernel treats as unchanged.
func (o timeoutsOp) encode(b []byte) []byte {
	t := Timeouts(o)
	w := nlmsg.AttrWriter{B: b}
	for _, f := range t.fields() {
		if *f.d != 0 {
			w.U32(f.typ, uint32(*f.d/time.Second))
		}
	}
	return w.B
}

// decodeTimeoutsReply decodes the attributes of the SET_CONFIG reply to
// GET_CONFIG.
func decodeTimeoutsReply(p []byte, t *Timeouts) error {
	*t = Timeouts{}
	fields := t.fields()
	a := nlmsg.NewAttrReader(p)
	for a.Next() {
		for _, f := range fields {
			if a.Type() == f.typ {
				*f.d = time.Duration(a.U32(f.name)) * time.Second
			}
		}
	}
	return a.Err()
}

// Timeouts returns the connection timeouts of the namespace.
func (c *Client) Timeouts(ctx context.Context) (Timeouts, error) {
	return get(ctx, c, reqTimeouts, tableWide{}, decodeTimeoutsReply)
}

// SetTimeouts sets the connection timeouts of the namespace; zero fields
// are left unchanged. Each must be a whole number of seconds, at most
// MaxTimeout.
func (c *Client) SetTimeouts(ctx context.Context, t Timeouts) error {
	return call(ctx, c, reqSetTimeouts, timeoutsOp(t), nil)
}
