//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// raw is the floor: request bytes built before the clock starts, written
// 1000 messages to a datagram with an ACK asked only of the last, and
// replies counted without decoding. It is as close to the kernel's own
// cost as a program gets.
type raw struct {
	nc       *netlink.Conn
	rc       syscall.RawConn
	fam      uint16
	ver      uint8
	pid, seq uint32
	buf      []byte

	writes [][]byte // prepared datagrams
	fences []uint32 // the sequence number each must be answered to
}

// preparer is a contender that builds its requests before the clock starts.
type preparer interface {
	prepare(workload string, n, d int) error
}

const rawPerDatagram = 1000

func newRaw() (contender, error) {
	gc, err := genetlink.Dial(nil)
	if err != nil {
		return nil, err
	}
	f, err := gc.GetFamily("IPVS")
	gc.Close()
	if err != nil {
		return nil, err
	}
	nc, err := netlink.Dial(unix.NETLINK_GENERIC, nil)
	if err != nil {
		return nil, err
	}
	rc, err := nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	})
	return &raw{nc: nc, rc: rc, fam: f.ID, ver: f.Version, pid: nc.PID(), buf: make([]byte, 64<<10)}, nil
}

func (r *raw) message(b []byte, cmd uint8, flags uint16, attrs []byte) []byte {
	r.seq++
	b = binary.NativeEndian.AppendUint32(b, uint32(16+4+len(attrs)))
	b = binary.NativeEndian.AppendUint16(b, r.fam)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, r.seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, cmd, r.ver, 0, 0)
	return append(b, attrs...)
}

func rawAttrs(fn func(ae *netlink.AttributeEncoder)) []byte {
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func rawSvc(ae *netlink.AttributeEncoder, i int, full bool) {
	ae.Nested(1, func(n *netlink.AttributeEncoder) error {
		a := svcAddr(i).As4()
		n.Uint16(1, 2)
		n.Uint16(2, 6)
		n.Bytes(3, a[:])
		n.Bytes(4, []byte{0, 80})
		if full {
			n.String(6, "rr")
			n.Bytes(7, []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
			n.Uint32(8, 0)
			n.Bytes(9, []byte{0xff, 0xff, 0xff, 0xff})
		}
		return nil
	})
}

func rawDst(ae *netlink.AttributeEncoder, i, j int, weight uint32) {
	ae.Nested(2, func(n *netlink.AttributeEncoder) error {
		a, p := dstAddr(i, j)
		b := a.As4()
		n.Bytes(1, b[:])
		n.Bytes(2, binary.BigEndian.AppendUint16(nil, p))
		n.Uint32(3, 0)
		n.Uint32(4, weight)
		n.Uint32(5, 0)
		n.Uint32(6, 0)
		return nil
	})
}

// prepare builds the workload's datagrams.
func (r *raw) prepare(w string, n, d int) error {
	r.writes, r.fences = nil, nil
	var msgs [][2]any // cmd, attrs
	add := func(cmd uint8, attrs []byte) { msgs = append(msgs, [2]any{cmd, attrs}) }
	switch w {
	case "create":
		for i := range n {
			add(1, rawAttrs(func(ae *netlink.AttributeEncoder) { rawSvc(ae, i, true) }))
			for j := range d {
				add(5, rawAttrs(func(ae *netlink.AttributeEncoder) { rawSvc(ae, i, false); rawDst(ae, i, j, 1) }))
			}
		}
	case "update":
		for i := range n {
			for j := range d {
				add(6, rawAttrs(func(ae *netlink.AttributeEncoder) { rawSvc(ae, i, false); rawDst(ae, i, j, 2) }))
			}
		}
	case "remove":
		for i := range n {
			add(3, rawAttrs(func(ae *netlink.AttributeEncoder) { rawSvc(ae, i, false) }))
		}
	case "read":
		// One dump request per datagram: the services, then each
		// service's destinations.
		r.writes = append(r.writes, r.message(nil, 4, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, nil))
		r.fences = append(r.fences, r.seq)
		for i := range n {
			r.writes = append(r.writes, r.message(nil, 8, unix.NLM_F_REQUEST|unix.NLM_F_DUMP,
				rawAttrs(func(ae *netlink.AttributeEncoder) { rawSvc(ae, i, false) })))
			r.fences = append(r.fences, r.seq)
		}
		return nil
	}
	for k := 0; k < len(msgs); k += rawPerDatagram {
		var dg []byte
		end := min(k+rawPerDatagram, len(msgs))
		for m := k; m < end; m++ {
			flags := uint16(unix.NLM_F_REQUEST)
			if m == end-1 {
				flags |= unix.NLM_F_ACK
			}
			dg = r.message(dg, msgs[m][0].(uint8), flags, msgs[m][1].([]byte))
		}
		r.writes = append(r.writes, dg)
		r.fences = append(r.fences, r.seq)
	}
	return nil
}

func (r *raw) write(b []byte) error {
	var werr error
	err := r.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}

func (r *raw) recv() ([]byte, error) {
	var n uintptr
	var rerr syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)), 0, 0, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if rerr != 0 {
		return nil, rerr
	}
	return r.buf[:n], nil
}

// exchange writes each prepared datagram and reads until its fence is
// answered; it returns the data messages counted.
func (r *raw) exchange() (int, error) {
	count := 0
	for k, dg := range r.writes {
		if err := r.write(dg); err != nil {
			return count, err
		}
		for done := false; !done; {
			b, err := r.recv()
			if err != nil {
				return count, err
			}
			for len(b) >= 16 {
				l := int(binary.NativeEndian.Uint32(b))
				typ := binary.NativeEndian.Uint16(b[4:])
				seq := binary.NativeEndian.Uint32(b[8:])
				if l < 16 || l > len(b) {
					return count, fmt.Errorf("bad message length %d", l)
				}
				switch typ {
				case unix.NLMSG_ERROR, unix.NLMSG_DONE:
					if e := int32(binary.NativeEndian.Uint32(b[16:])); e != 0 {
						return count, fmt.Errorf("sequence %d: %w", seq, syscall.Errno(-e))
					}
					done = done || seq == r.fences[k]
				default:
					count++
				}
				b = b[min((l+3)&^3, len(b)):]
			}
		}
	}
	return count, nil
}

func (r *raw) create(n, d int) error      { _, err := r.exchange(); return err }
func (r *raw) update(n, d int) error      { _, err := r.exchange(); return err }
func (r *raw) remove(n, d int) error      { _, err := r.exchange(); return err }
func (r *raw) read(n, d int) (int, error) { return r.exchange() }
