package ipvs

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The kernel's side, for the client's tests: internal/fakekernel's
// sockets, with a test's script as the family's handler (which can also
// answer raw, malformed datagrams), and the test's values converted for
// the kernel's reply encoders.

const (
	testFamilyID = 0x24
	// testPortID is the port ID of the tests' own sockets (not the fake
	// kernel's, which number theirs).
	testPortID = 4242
)

// newFakeKernel returns a kernel whose handler is h, that records its
// requests, and whose small buffers and dump datagrams of two messages
// make batches and dumps cross datagram boundaries.
func newFakeKernel(t testing.TB, h func(*fakekernel.Request) fakekernel.Answer) *fakekernel.Kernel {
	k := fakekernel.New(testFamilyID, h)
	k.Record = true
	k.ChunkMessages = 2
	k.SendBuffer, k.ReceiveBuffer = 2048, 4*errorAnswerCost
	return k
}

// testClient returns a Client whose sockets are k's, closed when the test
// ends.
func testClient(t testing.TB, k *fakekernel.Kernel) *Client {
	id, _ := k.Family()
	c := newClientWith(&Config{ReplyTimeout: 5 * time.Second}, k.Dial, genlFamily{id: id, version: ipvsh.GenlVersion})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The values the tests expect, as the kernel's encoders take them: built
// from the public types with their public methods, so that a bug in the
// client's own encoding can not hide in the kernel's.

func kernelStats(s Stats) fakekernel.Stats { return fakekernel.Stats(s) }

// kernelService takes the netmask as the kernel holds it: an IPv4 mask in
// network order, an IPv6 prefix length in host order.
func kernelService(s Service, o fakekernel.Options) []byte {
	var v uint32
	if s.Family == FamilyIPv6 {
		v = uint32(s.Netmask.Bits(FamilyIPv6))
	} else {
		m := s.Netmask.IPv4Mask()
		v = binary.BigEndian.Uint32(m[:])
	}
	var netmask [4]byte
	if s.Family == FamilyIPv4 {
		binary.BigEndian.PutUint32(netmask[:], v)
	} else {
		binary.NativeEndian.PutUint32(netmask[:], v)
	}
	return o.Service(&fakekernel.Service{AF: uint16(s.Family), Protocol: uint16(s.Protocol), Addr: s.Address,
		Port: s.Port, FWMark: s.FWMark, Sched: s.Scheduler, PE: s.PersistenceEngine, Flags: uint32(s.Flags),
		Timeout: uint32(s.Timeout / time.Second), Netmask: netmask, Stats: kernelStats(s.Stats)})
}

func kernelDestination(d Destination, o fakekernel.Options) []byte {
	return o.Dest(&fakekernel.Dest{AF: uint16(d.Family), Addr: d.Address, Port: d.Port,
		Fwd: uint32(d.Forward), Weight: d.Weight, UThresh: d.UpperThreshold, LThresh: d.LowerThreshold,
		TunType: uint8(d.TunnelType), TunPort: d.TunnelPort, TunFlags: uint16(d.TunnelFlags),
		Active: d.ActiveConnections, Inactive: d.InactiveConnections, Persist: d.PersistentConnections,
		Stats: kernelStats(d.Stats)})
}

func kernelDaemon(d Daemon) []byte {
	return fakekernel.Options{}.Daemon(&fakekernel.Daemon{State: uint32(d.State), Ifname: d.Interface, SyncID: d.SyncID,
		MaxLen: d.MaxLength, Group: d.Group, Port: d.Port, TTL: d.TTL})
}

func kernelInfo(i Info) []byte {
	return fakekernel.Info(uint32(i.Version.Major)<<16|uint32(i.Version.Minor)<<8|uint32(i.Version.Patch), i.ConnectionTableSize)
}

// kernelTimeouts leaves out zero timeouts, as a kernel built without
// that protocol does.
func kernelTimeouts(t Timeouts) []byte {
	return fakekernel.Options{OmitZero: true}.Config(fakekernel.Timeouts{TCP: uint32(t.TCP / time.Second),
		TCPFin: uint32(t.TCPFin / time.Second), UDP: uint32(t.UDP / time.Second)})
}

// genlMessage returns a Generic Netlink payload of command cmd whose
// attributes body writes with the client's own writer: a request as the
// client encodes it.
func genlMessage(cmd uint8, body func(w *nlmsg.AttrWriter)) []byte {
	w := nlmsg.AttrWriter{B: []byte{cmd, ipvsh.GenlVersion, 0, 0}}
	body(&w)
	return w.B
}

// Whole reply messages (Generic Netlink header and attributes) decoded as
// the exchange path decodes them: the tests, fuzz targets and benchmarks
// keep their inputs as the kernel sent them.

func decodeServiceMessage(msg []byte, s *Service) error {
	p, err := genlPayload(msg, ipvsh.CmdNewService)
	if err != nil {
		return err
	}
	return decodeServiceReply(p, s)
}

func decodeDestinationMessage(msg []byte, svcFamily Family, d *Destination) error {
	p, err := genlPayload(msg, ipvsh.CmdNewDest)
	if err != nil {
		return err
	}
	return decodeDestinationReply(p, svcFamily, d)
}

func decodeDaemonMessage(msg []byte, d *Daemon) error {
	p, err := genlPayload(msg, ipvsh.CmdNewDaemon)
	if err != nil {
		return err
	}
	return decodeDaemonReply(p, d)
}

func decodeInfoMessage(msg []byte, info *Info) error {
	p, err := genlPayload(msg, ipvsh.CmdSetInfo)
	if err != nil {
		return err
	}
	return decodeInfoReply(p, info)
}

func decodeTimeoutsMessage(msg []byte, t *Timeouts) error {
	p, err := genlPayload(msg, ipvsh.CmdSetConfig)
	if err != nil {
		return err
	}
	return decodeTimeoutsReply(p, t)
}
