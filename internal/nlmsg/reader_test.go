package nlmsg

import (
	"encoding/binary"
	"errors"
	"io"
	"syscall"
	"testing"
)

const (
	testSeq = 7
	testPID = 99
	family  = 0x20
)

func errPayload(errno int32) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(errno))
	return append(b, make([]byte, HeaderLen)...)
}

// NewReader returns, for the tests, a Reader for the replies to the request with sequence
// number seq, sent from port ID pid. recv reads one datagram into its
// argument and returns the datagram's full length, even when that is
// larger than the buffer (MSG_TRUNC), so that truncation is caught. ack
// tells whether the request carried NLM_F_ACK.
func NewReader(recv func([]byte) (int, error), buf []byte, seq, pid uint32, ack bool) *Reader {
	r := &Reader{}
	r.Init(recv, buf, pid)
	r.Reset(seq, seq, 0, ack)
	return r
}

// datagrams returns a recv function that hands out the given datagrams.
func datagrams(d ...[]byte) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		if len(d) == 0 {
			return 0, errors.New("read past the end of the reply")
		}
		n := copy(b, d[0])
		full := len(d[0])
		d = d[1:]
		_ = n
		return full, nil
	}
}

func readAll(r *Reader) (int, error) {
	n := 0
	for {
		_, _, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func cat(b ...[]byte) []byte {
	var out []byte
	for _, x := range b {
		out = append(out, x...)
	}
	return out
}

func TestReader(t *testing.T) {
	data := AppendMessage(nil, family, FlagMulti, testSeq, testPID, []byte{1, 1, 0, 0})
	done := AppendMessage(nil, TypeDone, FlagMulti, testSeq, testPID, []byte{0, 0, 0, 0})
	ack := AppendMessage(nil, TypeError, FlagCapped, testSeq, testPID, errPayload(0))
	tests := []struct {
		name  string
		dgram [][]byte
		ack   bool
		n     int
		err   error
	}{
		{"dump over datagrams", [][]byte{cat(data, data), cat(data, done)}, false, 3, nil},
		{"empty dump", [][]byte{done}, false, 0, nil},
		{"dump ends in error", [][]byte{cat(data, AppendMessage(nil, TypeDone, FlagMulti, testSeq, testPID, errPayload(-int32(syscall.EINTR))[:4]))}, false, 1, syscall.EINTR},
		{"dump refused", [][]byte{AppendMessage(nil, TypeError, 0, testSeq, testPID, errPayload(-int32(syscall.EPERM)))}, false, 0, syscall.EPERM},
		{"single reply", [][]byte{AppendMessage(nil, family, 0, testSeq, testPID, []byte{1, 1, 0, 0})}, false, 1, nil},
		{"single reply then ack", [][]byte{AppendMessage(nil, family, 0, testSeq, testPID, []byte{1, 1, 0, 0}), ack}, true, 1, nil},
		{"ack", [][]byte{ack}, true, 0, nil},
		{"noop skipped", [][]byte{cat(AppendMessage(nil, TypeNoop, 0, testSeq, testPID, nil), ack)}, true, 0, nil},
		{"interrupted", [][]byte{AppendMessage(nil, family, FlagMulti|FlagDumpIntr, testSeq, testPID, nil)}, false, 0, ErrDumpInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(datagrams(tt.dgram...), make([]byte, 4096), testSeq, testPID, tt.ack)
			n, err := readAll(r)
			if n != tt.n || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("got %d messages, %v; want %d, %v", n, err, tt.n, tt.err)
			}
		})
	}
}

func TestReaderRejects(t *testing.T) {
	tests := []struct {
		name  string
		dgram []byte
		buf   int
	}{
		{"wrong sequence", AppendMessage(nil, family, 0, testSeq+1, testPID, nil), 4096},
		{"wrong port", AppendMessage(nil, family, 0, testSeq, testPID+1, nil), 4096},
		{"truncated datagram", AppendMessage(nil, family, 0, testSeq, testPID, make([]byte, 100)), 64},
		{"short header", []byte{1, 2, 3}, 4096},
		{"length beyond datagram", AppendMessage(nil, family, 0, testSeq, testPID, nil)[:12], 4096},
		{"trailing bytes after the end", cat(AppendMessage(nil, family, 0, testSeq, testPID, nil), AppendMessage(nil, family, 0, testSeq, testPID, nil)), 4096},
		{"overrun", AppendMessage(nil, TypeOverrun, 0, testSeq, testPID, nil), 4096},
		{"positive error code", AppendMessage(nil, TypeError, 0, testSeq, testPID, errPayload(5)), 4096},
		{"short error", AppendMessage(nil, TypeError, 0, testSeq, testPID, []byte{1}), 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(datagrams(tt.dgram), make([]byte, tt.buf), testSeq, testPID, false)
			if _, err := readAll(r); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestExtendedAck(t *testing.T) {
	// Uncapped: the whole request is echoed before the TLVs.
	req := AppendMessage(nil, family, FlagRequest|FlagAck, testSeq, 0, []byte{9, 1, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0})
	p := errPayload(-int32(syscall.EINVAL))[:4]
	p = append(p, req...)
	text := "Attribute failed policy validation\x00"
	p = binary.NativeEndian.AppendUint16(p, uint16(4+len(text)))
	p = binary.NativeEndian.AppendUint16(p, ErrAttrMsg)
	p = append(p, text...)
	for len(p)%4 != 0 {
		p = append(p, 0)
	}
	p = append(p, 8, 0, ErrAttrOffs, 0, 20, 0, 0, 0)
	r := NewReader(datagrams(AppendMessage(nil, TypeError, FlagAckTLVs, testSeq, testPID, p)), make([]byte, 4096), testSeq, testPID, true)
	_, err := readAll(r)
	var ke *KernelError
	if !errors.As(err, &ke) || ke.Errno != syscall.EINVAL || ke.Message != "Attribute failed policy validation" || ke.Offset != 20 {
		t.Fatalf("got %#v", err)
	}
}

func TestStartFinishRequest(t *testing.T) {
	b, off := StartRequest([]byte{0xee}, family, FlagRequest|FlagAck, 3, 15, 1)
	b = append(b, 5, 0, 1, 0, 9) // an attribute of 5 bytes, unpadded
	b = FinishRequest(b, off)
	if len(b)%4 != 0 {
		t.Fatalf("not padded: %d bytes", len(b))
	}
	h, err := ParseHeader(b[off:])
	if err != nil {
		t.Fatal(err)
	}
	if h.Length != HeaderLen+GenlHeaderLen+5 || h.Type != family || h.Flags != FlagRequest|FlagAck || h.Sequence != 3 {
		t.Fatalf("header %+v", h)
	}
	if b[off+HeaderLen] != 15 || b[off+HeaderLen+1] != 1 {
		t.Fatalf("genl header % x", b[off+HeaderLen:off+HeaderLen+4])
	}
}

// FuzzReader feeds arbitrary datagrams to the reader: the first byte of
// the input picks the datagram size. It must end, with a result or an
// error, within a bounded number of calls, and never panic.
func FuzzReader(f *testing.F) {
	data := AppendMessage(nil, family, FlagMulti, testSeq, testPID, []byte{1, 1, 0, 0, 8, 0, 1, 0, 1, 2, 3, 4})
	f.Add(append([]byte{0}, cat(data, data, AppendMessage(nil, TypeDone, FlagMulti, testSeq, testPID, []byte{0, 0, 0, 0}))...), false)
	f.Add(append([]byte{byte(len(data))}, cat(data, data, AppendMessage(nil, TypeDone, FlagMulti, testSeq, testPID, nil))...), false)
	f.Add(append([]byte{0}, AppendMessage(nil, TypeError, FlagAckTLVs|FlagCapped, testSeq, testPID, append(errPayload(-int32(syscall.EINVAL)), 8, 0, 1, 0, 'h', 'i', 0, 0))...), true)
	f.Add(append([]byte{0}, AppendMessage(nil, family, 0, testSeq, testPID, nil)...), true)
	f.Fuzz(func(t *testing.T, b []byte, ack bool) {
		if len(b) == 0 {
			return
		}
		size := int(b[0])
		b = b[1:]
		var dgrams [][]byte
		for len(b) > 0 {
			n := len(b)
			if size > 0 && size < n {
				n = size
			}
			dgrams = append(dgrams, b[:n])
			b = b[n:]
		}
		reads := 0
		recv := func(buf []byte) (int, error) {
			if reads == len(dgrams) {
				return 0, io.ErrUnexpectedEOF
			}
			reads++
			return max(copy(buf, dgrams[reads-1]), len(dgrams[reads-1])), nil
		}
		r := NewReader(recv, make([]byte, 256), testSeq, testPID, ack)
		for i := 0; ; i++ {
			if i > 2*len(dgrams)+len(b)+1000 {
				t.Fatal("reader did not end")
			}
			h, p, err := r.Next()
			if err != nil {
				break
			}
			if int(h.Length) != HeaderLen+len(p) {
				t.Fatalf("payload of %d bytes for header length %d", len(p), h.Length)
			}
		}
	})
}
