package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// DaemonState is the role of a connection synchronization daemon.
type DaemonState uint32

// Possible DaemonState values. A host may run one of each.
const (
	// DaemonMaster sends the host's connection state to its backups.
	DaemonMaster DaemonState = ipvsh.StateMaster
	// DaemonBackup receives a master's connection state.
	DaemonBackup DaemonState = ipvsh.StateBackup
)

// String returns "master", "backup" or the number of another state.
func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Daemon is a connection synchronization daemon: the kernel thread that
// multicasts (master) or receives (backup) connection state, so that a
// standby director can take over established connections.
//
// On start, zero optional fields take the kernel's defaults: group
// 224.0.0.81, port 8848, TTL 1, and a maximum message length from the
// interface's MTU. Daemons reads them back filled in.
type Daemon struct {
	State DaemonState
	// Interface is the name of the multicast interface.
	Interface string
	// SyncID tells this cluster's messages from others' on the same group.
	SyncID uint32
	// MaxLength is the largest sync message payload, in bytes (Linux 4.3
	// and later, as are the fields after it).
	MaxLength uint16
	// Group is the multicast group, IPv4 or IPv6.
	Group netip.Addr
	Port  uint16
	TTL   uint8
}

// String names the daemon as "master on eth0 (sync id 1)".
func (d Daemon) String() string {
	return fmt.Sprintf("%s on %s (sync id %d)", d.State, d.Interface, d.SyncID)
}

func checkDaemonState(s DaemonState) error {
	if s != DaemonMaster && s != DaemonBackup {
		return invalidf("daemon state", "%s is not master or backup", s)
	}
	return nil
}

// validate checks a daemon to be started.
func (d *Daemon) validate() error {
	if err := checkDaemonState(d.State); err != nil {
		return err
	}
	if d.Interface == "" {
		return invalidf("daemon interface", "is empty")
	}
	if err := checkName("daemon interface", d.Interface, ipvsh.IfNameMaxLen); err != nil {
		return err
	}
	// A v4-mapped group is IPv6 here, and never multicast.
	if g := d.Group; g.IsValid() && !g.IsMulticast() {
		return invalidf("daemon group", "%s is not a multicast address", g)
	}
	return nil
}

// encodeNest writes the DAEMON nest of NEW_DAEMON. Zero optional fields
// are left out, so that the kernel applies its defaults and kernels
// before 4.3 are not sent attributes they would ignore.
func (d *Daemon) encodeNest(w *attrWriter) {
	n := w.nest(ipvsh.CmdAttrDaemon)
	w.u32(ipvsh.DaemonAttrState, uint32(d.State))
	w.str(ipvsh.DaemonAttrMcastIfn, d.Interface)
	w.u32(ipvsh.DaemonAttrSyncID, d.SyncID)
	if d.MaxLength != 0 {
		w.u16(ipvsh.DaemonAttrSyncMaxlen, d.MaxLength)
	}
	if g := d.Group; g.Is4() {
		w.addr(ipvsh.DaemonAttrMcastGroup, g)
	} else if g.IsValid() {
		w.addr(ipvsh.DaemonAttrMcastGroup6, g)
	}
	if d.Port != 0 {
		// Host order, unlike service ports: the kernel uses nla_get_u16.
		w.u16(ipvsh.DaemonAttrMcastPort, d.Port)
	}
	if d.TTL != 0 {
		w.u8(ipvsh.DaemonAttrMcastTTL, d.TTL)
	}
	w.end(n)
}

// encodeStateNest writes the DAEMON nest of DEL_DAEMON.
func encodeDaemonStateNest(w *attrWriter, s DaemonState) {
	n := w.nest(ipvsh.CmdAttrDaemon)
	w.u32(ipvsh.DaemonAttrState, uint32(s))
	w.end(n)
}

// decode reads the payload of a DAEMON nest.
func (d *Daemon) decode(b []byte) error {
	*d = Daemon{}
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case ipvsh.DaemonAttrState:
			d.State = DaemonState(a.u32("daemon STATE"))
		case ipvsh.DaemonAttrMcastIfn:
			d.Interface = a.str()
		case ipvsh.DaemonAttrSyncID:
			d.SyncID = a.u32("daemon SYNC_ID")
		case ipvsh.DaemonAttrSyncMaxlen:
			d.MaxLength = a.u16("daemon SYNC_MAXLEN")
		case ipvsh.DaemonAttrMcastGroup:
			if len(a.data) != 4 {
				a.fail("daemon MCAST_GROUP", "4")
				break
			}
			d.Group = netip.AddrFrom4([4]byte(a.data))
		case ipvsh.DaemonAttrMcastGroup6:
			if len(a.data) != 16 {
				a.fail("daemon MCAST_GROUP6", "16")
				break
			}
			d.Group = netip.AddrFrom16([16]byte(a.data))
		case ipvsh.DaemonAttrMcastPort:
			d.Port = a.u16("daemon MCAST_PORT")
		case ipvsh.DaemonAttrMcastTTL:
			d.TTL = a.u8("daemon MCAST_TTL")
		}
	}
	return a.err
}

// decodeDaemonMessage decodes a NEW_DAEMON reply message.
func decodeDaemonMessage(msg []byte, d *Daemon) error {
	p, err := genlPayload(msg)
	if err != nil {
		return err
	}
	nest, ok, err := nested(p, ipvsh.CmdAttrDaemon)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("daemon reply has no DAEMON attribute")
	}
	return d.decode(nest)
}

// Daemons returns the running synchronization daemons of the namespace:
// none, a master, a backup, or both.
func (c *Client) Daemons(ctx context.Context) ([]Daemon, error) {
	return collect(dump(c, ctx, request{op: opDaemons, cmd: ipvsh.CmdGetDaemon, flags: flagsDump}, decodeDaemonMessage))
}

// StartDaemon starts a synchronization daemon. If one of that state runs
// already, the error matches os.ErrExist; if the interface does not exist
// in the namespace, os.ErrNotExist.
func (c *Client) StartDaemon(ctx context.Context, d Daemon) error {
	return c.exec(ctx, &request{op: opStartDaemon, cmd: ipvsh.CmdNewDaemon, flags: flagsWrite, body: bodyDaemon, daemon: d}, nil)
}

// stopDaemonGrace bounds the wait for the ACK of DEL_DAEMON. The kernel
// handles a request within the write that sends it, so its ACK is queued,
// or lost, by the time the write returns; the grace only absorbs
// scheduling.
const stopDaemonGrace = 250 * time.Millisecond

// StopDaemon stops the synchronization daemon of the given state. If none
// runs, the error matches os.ErrNotExist.
//
// The kernel sends no reply at all when it stops a daemon whose thread
// had not run yet (its internal EINTR suppresses the ACK). StopDaemon
// therefore waits for the ACK only briefly, and without one asks the
// kernel which daemons run: if that one no longer does, it has stopped.
func (c *Client) StopDaemon(ctx context.Context, state DaemonState) error {
	r := &request{op: opStopDaemon, cmd: ipvsh.CmdDelDaemon, flags: flagsWrite, body: bodyDaemonState, state: state}
	if err := r.validate(); err != nil {
		return r.wrap(err)
	}
	ackCtx, cancel := context.WithTimeout(ctx, stopDaemonGrace)
	err := c.exec(ackCtx, r, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return err
	}
	daemons, derr := c.Daemons(ctx)
	if derr != nil {
		return r.wrap(fmt.Errorf("no reply, and checking whether it stopped failed: %w", derr))
	}
	for _, d := range daemons {
		if d.State == state {
			return r.wrap(errors.New("no reply, and it still runs"))
		}
	}
	return nil
}
