package nlmsg

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// le16 and le32 spell a value in host order, for the expected bytes
// below.
func le16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestAttrWriter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(w *AttrWriter)
		want  []byte
	}{
		{"u8 padded", func(w *AttrWriter) { w.U8(1, 7) }, cat(le16(5), le16(1), []byte{7, 0, 0, 0})},
		{"u16 padded", func(w *AttrWriter) { w.U16(2, 0x0102) }, cat(le16(6), le16(2), le16(0x0102), []byte{0, 0})},
		{"be16", func(w *AttrWriter) { w.BE16(3, 80) }, cat(le16(6), le16(3), []byte{0, 80, 0, 0})},
		{"u32", func(w *AttrWriter) { w.U32(4, 9) }, cat(le16(8), le16(4), le32(9))},
		{"be32", func(w *AttrWriter) { w.BE32(5, 0xffffff00) }, cat(le16(8), le16(5), []byte{0xff, 0xff, 0xff, 0})},
		{"string with its NUL, padded", func(w *AttrWriter) { w.Str(6, "wrr") }, cat(le16(8), le16(6), []byte("wrr\x00"))},
		{"empty string", func(w *AttrWriter) { w.Str(6, "") }, cat(le16(5), le16(6), []byte{0, 0, 0, 0})},
		{"IPv4 in 4 bytes", func(w *AttrWriter) { w.Addr(7, netip.MustParseAddr("10.0.0.1")) }, cat(le16(8), le16(7), []byte{10, 0, 0, 1})},
		{"IPv6 in 16 bytes", func(w *AttrWriter) { w.Addr(7, netip.MustParseAddr("fd00::1")) },
			cat(le16(20), le16(7), []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
		{"nest flagged, length over its attributes", func(w *AttrWriter) {
			n := w.Nest(8)
			w.U8(1, 7)
			w.End(n)
		}, cat(le16(12), le16(8|AttrNested), le16(5), le16(1), []byte{7, 0, 0, 0})},
	} {
		// After a Generic Netlink header, as every request has.
		w := AttrWriter{B: []byte{1, 2, 0, 0}}
		tt.write(&w)
		if got := w.B[4:]; !bytes.Equal(got, tt.want) {
			t.Errorf("%s: wrote % x, want % x", tt.name, got, tt.want)
		}
	}
}

func TestAttrReader(t *testing.T) {
	var w AttrWriter
	w.U16(1, 0x0102)
	n := w.Nest(2)
	w.BE16(1, 80)
	w.End(n)
	w.Str(3, "eth0")
	w.Header(4, 8)
	w.B = binary.NativeEndian.AppendUint64(w.B, 1<<40)

	a := NewAttrReader(w.B)
	var types []uint16
	for a.Next() {
		types = append(types, a.Type())
		switch a.Type() {
		case 1:
			if v := a.U16("one"); v != 0x0102 {
				t.Errorf("U16 = %#x", v)
			}
		case 2:
			if h := a.Attr(); len(h) != AttrHeaderLen+len(a.Data()) || binary.NativeEndian.Uint16(h[2:]) != 2|AttrNested {
				t.Errorf("Attr = % x, Data = % x", h, a.Data())
			}
			in := NewAttrReader(a.Data())
			if !in.Next() || in.BE16("port") != 80 || in.Next() || in.Err() != nil {
				t.Errorf("nest: % x, err %v", a.Data(), in.Err())
			}
		case 3:
			if s := a.Str(); s != "eth0" {
				t.Errorf("Str = %q", s)
			}
		case 4:
			if v := a.U64("four"); v != 1<<40 {
				t.Errorf("U64 = %d", v)
			}
		}
	}
	if a.Err() != nil || len(types) != 4 || types[1] != 2 {
		t.Errorf("read types %v, err %v; want 1 2 3 4 and no error", types, a.Err())
	}
}

func TestAttrReaderErrors(t *testing.T) {
	good := cat(le16(8), le16(1), le32(5))
	for _, tt := range []struct {
		name string
		b    []byte
		get  func(a *AttrReader) // called on each attribute, if set
		want string
		read int // attributes Next returns before the error
	}{
		{"trailing bytes", cat(good, []byte{1, 2}), nil, "2 trailing bytes", 1},
		{"length under the header", cat(good, le16(3), le16(9)), nil, "type 9 has length 3", 1},
		{"length past the end", cat(le16(12), le16(9), le32(5)), nil, "type 9 has length 12, with 8 bytes left", 0},
		{"getter of the wrong size stops the iteration", cat(good, good), func(a *AttrReader) { a.U16("ONE") }, "attribute ONE has 4 bytes, want 2", 1},
	} {
		a := NewAttrReader(tt.b)
		n := 0
		for a.Next() {
			n++
			if tt.get != nil {
				tt.get(&a)
			}
		}
		if err := a.Err(); err == nil || !strings.Contains(err.Error(), tt.want) || n != tt.read {
			t.Errorf("%s: %d attributes, err %v; want %d and %q", tt.name, n, err, tt.read, tt.want)
		}
	}
	// The first error stays: a second getter's does not replace it.
	a := NewAttrReader(good)
	a.Next()
	a.U8("FIRST")
	a.U64("SECOND")
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "FIRST") {
		t.Errorf("err %v, want the first getter's", err)
	}
}
