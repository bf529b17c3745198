package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// DaemonState is the role of a connection synchronization daemon.
type DaemonState uint32

// Possible DaemonState values. A host may run one of each.
const (
	// DaemonMaster sends the host's connection state to its backups.
	DaemonMaster DaemonState = 1 // IP_VS_STATE_MASTER
	// DaemonBackup receives a master's connection state.
	DaemonBackup DaemonState = 2 // IP_VS_STATE_BACKUP
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

// validate checks a state to name a daemon by.
func (s DaemonState) validate() error {
	if s != DaemonMaster && s != DaemonBackup {
		return invalidf("daemon state", "%s is not master or backup", s)
	}
	return nil
}

// encode writes the DAEMON nest of DEL_DAEMON, which names a daemon by
// its state: a DaemonState is the operand of StopDaemon.
func (s DaemonState) encode(b []byte) []byte {
	w := nlmsg.AttrWriter{B: b}
	n := w.Nest(ipvsh.CmdAttrDaemon)
	w.U32(ipvsh.DaemonAttrState, uint32(s))
	w.End(n)
	return w.B
}

// validate checks a daemon to be started.
func (d Daemon) validate() error {
	if err := d.State.validate(); err != nil {
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

// encode writes the DAEMON nest of NEW_DAEMON: a Daemon is the operand of
// StartDaemon. Zero optional fields are left out, so that the kernel
// applies its defaults and kernels before 4.3 are not sent attributes
// they would ignore.
func (d Daemon) encode(b []byte) []byte {
	w := nlmsg.AttrWriter{B: b}
	n := w.Nest(ipvsh.CmdAttrDaemon)
	w.U32(ipvsh.DaemonAttrState, uint32(d.State))
	w.Str(ipvsh.DaemonAttrMcastIfn, d.Interface)
	w.U32(ipvsh.DaemonAttrSyncID, d.SyncID)
	if d.MaxLength != 0 {
		w.U16(ipvsh.DaemonAttrSyncMaxlen, d.MaxLength)
	}
	if g := d.Group; g.Is4() {
		w.Addr(ipvsh.DaemonAttrMcastGroup, g)
	} else if g.IsValid() {
		w.Addr(ipvsh.DaemonAttrMcastGroup6, g)
	}
	if d.Port != 0 {
		// Host order, unlike service ports: the kernel uses nla_get_u16.
		w.U16(ipvsh.DaemonAttrMcastPort, d.Port)
	}
	if d.TTL != 0 {
		w.U8(ipvsh.DaemonAttrMcastTTL, d.TTL)
	}
	w.End(n)
	return w.B
}

// decode reads the payload of a DAEMON nest.
func (d *Daemon) decode(b []byte) error {
	*d = Daemon{}
	a := nlmsg.NewAttrReader(b)
	for a.Next() {
		switch a.Type() {
		case ipvsh.DaemonAttrState:
			d.State = DaemonState(a.U32("daemon STATE"))
		case ipvsh.DaemonAttrMcastIfn:
			d.Interface = a.Str()
		case ipvsh.DaemonAttrSyncID:
			d.SyncID = a.U32("daemon SYNC_ID")
		case ipvsh.DaemonAttrSyncMaxlen:
			d.MaxLength = a.U16("daemon SYNC_MAXLEN")
		case ipvsh.DaemonAttrMcastGroup:
			if v := a.Fixed("daemon MCAST_GROUP", 4); v != nil {
				d.Group = netip.AddrFrom4([4]byte(v))
			}
		case ipvsh.DaemonAttrMcastGroup6:
			if v := a.Fixed("daemon MCAST_GROUP6", 16); v != nil {
				d.Group = netip.AddrFrom16([16]byte(v))
			}
		case ipvsh.DaemonAttrMcastPort:
			d.Port = a.U16("daemon MCAST_PORT")
		case ipvsh.DaemonAttrMcastTTL:
			d.TTL = a.U8("daemon MCAST_TTL")
		}
	}
	return a.Err()
}

// decodeDaemonReply decodes the attributes of a NEW_DAEMON reply.
func decodeDaemonReply(p []byte, d *Daemon) error {
	return decodeNested(p, ipvsh.CmdAttrDaemon, "DAEMON", d.decode)
}

// Daemons returns the running synchronization daemons of the namespace:
// none, a master, a backup, or both.
func (c *Client) Daemons(ctx context.Context) ([]Daemon, error) {
	return collect(opDaemons, dump(ctx, c, reqDaemons, tableWide{}, decodeDaemonReply))
}

// StartDaemon starts a synchronization daemon. If one of that state runs
// already, the error matches os.ErrExist; if the interface does not exist
// in the namespace, os.ErrNotExist.
func (c *Client) StartDaemon(ctx context.Context, d Daemon) error {
	return call(ctx, c, reqStartDaemon, d, nil)
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
	ackCtx, cancel := context.WithTimeout(ctx, stopDaemonGrace)
	err := call(ackCtx, c, reqStopDaemon, state, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return err
	}
	daemons, derr := c.Daemons(ctx)
	if derr != nil {
		return wrap(reqStopDaemon, state, fmt.Errorf("no reply, and checking whether it stopped failed: %w", derr))
	}
	for _, d := range daemons {
		if d.State == state {
			return wrap(reqStopDaemon, state, errors.New("no reply, and it still runs"))
		}
	}
	return nil
}
