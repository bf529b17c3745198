package ipvs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// request describes a kind of request: what it is called in errors, its
// command and flags, and the command of its reply messages.
type request struct {
	op    string
	cmd   uint8
	flags uint16
	reply uint8 // 0 for a write, which gets no reply message
	pool  pool  // of the socket it goes on
}

// Flags of the three kinds of request. Writes ask for an ACK, since a
// successful write gets no reply at all without one. Single gets do not:
// the kernel would send the ACK as a second datagram after the reply.
// Dumps need both bits of NLM_F_DUMP.
const (
	flagsWrite = nlmsg.FlagRequest | nlmsg.FlagAck
	flagsGet   = nlmsg.FlagRequest
	flagsDump  = nlmsg.FlagRequest | nlmsg.FlagDump
)

var (
	reqInfo          = request{opInfo, ipvsh.CmdGetInfo, flagsGet, ipvsh.CmdSetInfo, poolDefault}
	reqTimeouts      = request{opTimeouts, ipvsh.CmdGetConfig, flagsGet, ipvsh.CmdSetConfig, poolDefault}
	reqSetTimeouts   = request{opSetTimeouts, ipvsh.CmdSetConfig, flagsWrite, 0, poolDefault}
	reqServices      = request{opServices, ipvsh.CmdGetService, flagsDump, ipvsh.CmdNewService, poolDefault}
	reqService       = request{opService, ipvsh.CmdGetService, flagsGet, ipvsh.CmdNewService, poolDefault}
	reqCreateService = request{opCreateService, ipvsh.CmdNewService, flagsWrite, 0, poolDefault}
	reqUpdateService = request{opUpdateService, ipvsh.CmdSetService, flagsWrite, 0, poolDefault}
	reqRemoveService = request{opRemoveService, ipvsh.CmdDelService, flagsWrite, 0, poolDefault}
	reqDestinations  = request{opDests, ipvsh.CmdGetDest, flagsDump, ipvsh.CmdNewDest, poolPaged}
	reqCreateDest    = request{opCreateDest, ipvsh.CmdNewDest, flagsWrite, 0, poolDefault}
	reqUpdateDest    = request{opUpdateDest, ipvsh.CmdSetDest, flagsWrite, 0, poolDefault}
	reqRemoveDest    = request{opRemoveDest, ipvsh.CmdDelDest, flagsWrite, 0, poolDefault}
	reqFlush         = request{opFlush, ipvsh.CmdFlush, flagsWrite, 0, poolDefault}
	reqZero          = request{opZero, ipvsh.CmdZero, flagsWrite, 0, poolDefault}
	reqDaemons       = request{opDaemons, ipvsh.CmdGetDaemon, flagsDump, ipvsh.CmdNewDaemon, poolDefault}
	reqStartDaemon   = request{opStartDaemon, ipvsh.CmdNewDaemon, flagsWrite, 0, poolDefault}
	reqStopDaemon    = request{opStopDaemon, ipvsh.CmdDelDaemon, flagsWrite, 0, poolDefault}
)

// An operand is what a request is about: it checks itself before
// anything is sent, appends its attributes, and names itself in errors.
// Operands are values, passed through generic functions, so that a call
// boxes nothing.
type operand interface {
	validate() error
	encode(b []byte) []byte // appends the attributes to b
	String() string
}

// tableWide is the operand of requests about the whole table of the
// namespace: it names nothing.
type tableWide struct{}

func (tableWide) validate() error        { return nil }
func (tableWide) encode(b []byte) []byte { return b }
func (tableWide) String() string         { return "" }

// call sends one request about o on a pooled socket and passes the
// attributes of each reply message to each (none, for a write).
//
// When the kernel answers ENOENT before any reply message, the family's
// ID may have gone stale (ip_vs was reloaded, and got a new one): the
// request then reached no IPVS handler, so it is sent once more under
// the ID a fresh lookup finds, and if the family is gone the error
// matches ErrNoIPVS.
func call[O operand](ctx context.Context, c *Client, r request, o O, each func(p []byte) error) error {
	if err := o.validate(); err != nil {
		return wrap(r, o, err)
	}
	cn, err := c.acquireFrom(r.pool)
	if err != nil {
		return wrap(r, o, err)
	}
	fam := c.currentFamily()
	got, err := roundTrip(ctx, cn, fam, r, o, each)
	if got == 0 && errors.Is(err, syscall.ENOENT) {
		var again bool
		if again, err = c.refreshFamily(ctx, cn, fam, err); again {
			_, err = roundTrip(ctx, cn, c.currentFamily(), r, o, each)
		}
	}
	c.release(cn)
	if err != nil {
		return wrap(r, o, err)
	}
	return nil
}

// roundTrip encodes the request about o into the socket's buffer and
// exchanges it, returning how many reply messages it passed to each.
func roundTrip[O interface{ encode(b []byte) []byte }](ctx context.Context, cn *conn, fam genlFamily, r request, o O, each func(p []byte) error) (got int, err error) {
	seq := cn.next()
	var off int
	cn.req, off = nlmsg.StartRequest(cn.req[:0], fam.id, r.flags, seq, r.cmd, fam.version)
	cn.req = nlmsg.FinishRequest(o.encode(cn.req), off)
	var handle func(nlmsg.Header, []byte) error
	if each != nil {
		handle = func(_ nlmsg.Header, msg []byte) error {
			got++
			p, err := genlPayload(msg, r.reply)
			if err != nil {
				return err
			}
			return each(p)
		}
	}
	err = cn.exchange(ctx, cn.req, seq, seq, fam.id, r.flags&nlmsg.FlagAck != 0, handle)
	return got, err
}

// get runs a single get, whose reply is one message.
func get[T any, O operand](ctx context.Context, c *Client, r request, o O, decode func(p []byte, v *T) error) (T, error) {
	var v T
	got := false
	err := call(ctx, c, r, o, func(p []byte) error {
		got = true
		return decode(p, &v)
	})
	if err == nil && !got {
		err = wrap(r, o, errNoReply)
	}
	return v, err
}

var errNoReply = errors.New("the kernel sent no reply message")

// dump runs a dump and yields each decoded object as its message arrives.
// Breaking out of the loop closes the socket, since the rest of the dump
// is still on its way.
func dump[T any, O operand](ctx context.Context, c *Client, r request, o O, decode func(p []byte, v *T) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var v T
		stopped := false
		err := call(ctx, c, r, o, func(p []byte) error {
			if err := decode(p, &v); err != nil {
				return decodeError(err)
			}
			if !yield(v, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			var zero T
			yield(zero, err)
		}
	}
}

// decodeError is the error of a reply message that does not decode.
func decodeError(err error) error { return fmt.Errorf("decode reply: %w", err) }

// collectLimit is the most objects a method that returns a whole dump as
// a slice (Services, Destinations, VirtualServers, Daemons) gathers: a
// reply stream longer than that fails with errTooLarge, so that a peer
// that never ends a dump can not grow memory without bound. It is far
// above any table IPVS is used with; the iterators (AllServices, ...)
// have no such limit, since they hold one object at a time.
const collectLimit = 1 << 22

// maxCollected is collectLimit, lowered by tests.
var maxCollected = collectLimit

// errTooLarge is the error of a dump collected into a slice that went on
// past collectLimit objects.
var errTooLarge = fmt.Errorf("the dump holds more than %d objects: read it with an iterator (AllServices, AllDestinations, AllVirtualServers)", collectLimit)

// collect gathers a dump into a slice; an empty dump is an empty slice.
func collect[T any](op string, seq iter.Seq2[T, error]) ([]T, error) {
	out := []T{}
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		if len(out) == maxCollected {
			return nil, &Error{Op: op, Err: errTooLarge}
		}
		out = append(out, v)
	}
	return out, nil
}

// wrap makes err the *Error of request r about o.
func wrap(r request, o fmt.Stringer, err error) error {
	e := &Error{Op: r.op, Object: o.String(), Err: err}
	// The kernel's own answer is reported as its errno; one deeper in a
	// chain, such as the controller's, stays where it is.
	if ke, ok := err.(*nlmsg.KernelError); ok {
		e.Err, e.Message = ke.Errno, ke.Message
	}
	return e
}

// genlPayload checks the Generic Netlink header of a reply message and
// returns the attributes after it.
func genlPayload(msg []byte, cmd uint8) ([]byte, error) {
	if len(msg) < nlmsg.GenlHeaderLen {
		return nil, fmt.Errorf("generic netlink message of %d bytes has no header", len(msg))
	}
	if msg[0] != cmd {
		return nil, fmt.Errorf("reply message has generic netlink command %d, want %d", msg[0], cmd)
	}
	return msg[nlmsg.GenlHeaderLen:], nil
}

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
	w := nlmsg.AttrWriter{B: b}
	w.Str(nlmsg.CtrlAttrFamilyName, string(n))
	return w.B
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
		a := nlmsg.NewAttrReader(p)
		for a.Next() {
			switch a.Type() {
			case nlmsg.CtrlAttrFamilyID:
				f.id = a.U16("controller FAMILY_ID")
			case nlmsg.CtrlAttrVersion:
				f.version = uint8(a.U32("controller VERSION"))
			}
		}
		return a.Err()
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
