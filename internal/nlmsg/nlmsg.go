// Package nlmsg frames Generic Netlink requests and reads their replies:
// single replies, acknowledgements and multipart dumps, one datagram at a
// time. Its attribute writer and reader encode and decode the attributes
// of IPVS and ctnetlink messages without allocating.
//
// It works on bytes and a receive function rather than on a socket, so the
// same reader serves the real socket, the tests' fake kernel and the fuzzer.
// This package is internal-only: use package ipvs.
package nlmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Netlink message header layout and types (linux/netlink.h).
const (
	HeaderLen     = 16 // sizeof(struct nlmsghdr)
	GenlHeaderLen = 4  // sizeof(struct genlmsghdr)

	TypeNoop    = 0x1 // NLMSG_NOOP
	TypeError   = 0x2 // NLMSG_ERROR
	TypeDone    = 0x3 // NLMSG_DONE
	TypeOverrun = 0x4 // NLMSG_OVERRUN
)

// Header flags (linux/netlink.h).
const (
	FlagRequest  = 0x01  // NLM_F_REQUEST
	FlagMulti    = 0x02  // NLM_F_MULTI
	FlagAck      = 0x04  // NLM_F_ACK
	FlagDumpIntr = 0x10  // NLM_F_DUMP_INTR
	FlagDump     = 0x300 // NLM_F_ROOT|NLM_F_MATCH
	FlagCapped   = 0x100 // NLM_F_CAPPED, on NLMSG_ERROR
	FlagAckTLVs  = 0x200 // NLM_F_ACK_TLVS, on NLMSG_ERROR
)

// Extended acknowledgement attributes (enum nlmsgerr_attrs).
const (
	ErrAttrMsg  = 1 // NLMSGERR_ATTR_MSG
	ErrAttrOffs = 2 // NLMSGERR_ATTR_OFFS
)

// Header is a netlink message header (struct nlmsghdr).
type Header struct {
	Length   uint32
	Type     uint16
	Flags    uint16
	Sequence uint32
	PID      uint32
}

// Align rounds n up to the netlink alignment of 4 bytes (NLMSG_ALIGN).
func Align(n int) int { return (n + 3) &^ 3 }

// StartRequest appends a netlink header and a Generic Netlink header to b,
// with the length left for FinishRequest to fill in once the attributes
// have been appended. It returns b and the offset of the message.
func StartRequest(b []byte, family, flags uint16, seq uint32, cmd, version uint8) ([]byte, int) {
	off := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	// The port ID of a request may be 0: the kernel fills in the sender's.
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, cmd, version, 0, 0)
	return b, off
}

// FinishRequest writes the length of the message that starts at off and
// pads b to the netlink alignment, so that another message may follow.
func FinishRequest(b []byte, off int) []byte {
	binary.NativeEndian.PutUint32(b[off:], uint32(len(b)-off))
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// AppendMessage appends a whole netlink message with payload p to b,
// padded to the netlink alignment: what a kernel sends, in the fakes and
// tests that stand for one.
func AppendMessage(b []byte, typ, flags uint16, seq, pid uint32, p []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(HeaderLen+len(p)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, pid)
	b = append(b, p...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ParseHeader decodes the header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("netlink message of %d bytes is shorter than its header", len(b))
	}
	h := Header{
		Length:   binary.NativeEndian.Uint32(b[0:4]),
		Type:     binary.NativeEndian.Uint16(b[4:6]),
		Flags:    binary.NativeEndian.Uint16(b[6:8]),
		Sequence: binary.NativeEndian.Uint32(b[8:12]),
		PID:      binary.NativeEndian.Uint32(b[12:16]),
	}
	if h.Length < HeaderLen || int(h.Length) > len(b) {
		return Header{}, fmt.Errorf("netlink message length %d does not fit the %d bytes received", h.Length, len(b))
	}
	return h, nil
}

// KernelError is an error the kernel reported in NLMSG_ERROR or in the
// payload of NLMSG_DONE, with the extended acknowledgement if it sent one.
type KernelError struct {
	Errno   syscall.Errno
	Message string // NLMSGERR_ATTR_MSG, if any
	Offset  int    // NLMSGERR_ATTR_OFFS into the request, if any; else -1
}

// Error returns the errno's text, with the kernel's message if any.
func (e *KernelError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s (%s)", e.Errno.Error(), e.Message)
	}
	return e.Errno.Error()
}

// Unwrap returns the errno, so that errors.Is(err, syscall.ESRCH) and the
// errno's own mapping onto os.ErrNotExist and friends work.
func (e *KernelError) Unwrap() error { return e.Errno }

// ParseError decodes the payload of an NLMSG_ERROR message with header
// flags flags: a negative errno, the request's header (and its payload
// unless the kernel capped it), then extended acknowledgement attributes
// if flags say so. errno is 0 for an ACK, else negative with ext
// describing it.
func ParseError(flags uint16, b []byte) (errno int32, ext *KernelError, err error) {
	if len(b) < 4 {
		return 0, nil, fmt.Errorf("netlink error message of %d bytes has no error code", len(b))
	}
	errno = int32(binary.NativeEndian.Uint32(b))
	if errno == 0 {
		return 0, nil, nil
	}
	if errno > 0 {
		return 0, nil, fmt.Errorf("netlink error message carries positive error code %d", errno)
	}
	ke := &KernelError{Errno: syscall.Errno(-errno), Offset: -1}
	if flags&FlagAckTLVs == 0 {
		return errno, ke, nil
	}
	// Skip the echoed request to reach the TLVs. A malformed echo only
	// costs the message text, never the errno.
	rest := b[4:]
	if len(rest) < HeaderLen {
		return errno, ke, nil
	}
	skip := HeaderLen
	if flags&FlagCapped == 0 {
		skip = Align(int(binary.NativeEndian.Uint32(rest)))
	}
	if skip < HeaderLen || skip > len(rest) {
		return errno, ke, nil
	}
	// Malformed TLVs end the reading the same way.
	a := NewAttrReader(rest[skip:])
	for a.Next() {
		switch a.Type() {
		case ErrAttrMsg:
			ke.Message = a.Str()
		case ErrAttrOffs:
			if v := a.Data(); len(v) == 4 {
				ke.Offset = int(binary.NativeEndian.Uint32(v))
			}
		}
	}
	return errno, ke, nil
}

// CString returns b up to its first NUL byte: the string of an
// NLA_NUL_STRING attribute, tolerating a missing NUL.
func CString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// ErrDumpInterrupted is returned when the kernel marks a dump with
// NLM_F_DUMP_INTR. Package ipvs reports its own ErrDumpInterrupted for it.
var ErrDumpInterrupted = errors.New("dump interrupted by a concurrent change (NLM_F_DUMP_INTR); retry it")

// The Generic Netlink controller (linux/genetlink.h), which resolves
// family names to IDs.
const (
	CtrlFamilyID       = 0x10 // GENL_ID_CTRL
	CtrlVersion        = 2    // the controller's version
	CtrlCmdNewFamily   = 1    // CTRL_CMD_NEWFAMILY, the reply to GETFAMILY
	CtrlCmdGetFamily   = 3    // CTRL_CMD_GETFAMILY
	CtrlAttrFamilyID   = 1    // CTRL_ATTR_FAMILY_ID: u16
	CtrlAttrFamilyName = 2    // CTRL_ATTR_FAMILY_NAME: NUL-terminated string
	CtrlAttrVersion    = 3    // CTRL_ATTR_VERSION: u32
)

// SetHeader fills in the type (the family ID), flags and sequence number
// of the request that starts b, and its Generic Netlink version: the
// fields a request encoded ahead of time leaves for its sending.
func SetHeader(b []byte, family, flags uint16, seq uint32, version uint8) {
	binary.NativeEndian.PutUint16(b[4:], family)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[HeaderLen+1] = version
}
