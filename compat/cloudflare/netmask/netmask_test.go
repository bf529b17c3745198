package netmask

import (
	"bytes"
	"net"
	"testing"
)

// TestEveryPrefix checks every prefix of both families against the
// standard library's net.CIDRMask, and each encoding's round trip.
func TestEveryPrefix(t *testing.T) {
	for _, bits := range []int{32, 128} {
		for ones := 0; ones <= bits; ones++ {
			m := MaskFrom(ones, bits)
			want := []byte(net.CIDRMask(ones, bits))
			if got := m.AsSlice(); !bytes.Equal(got, want) {
				t.Errorf("/%d of %d: AsSlice %v, want %v", ones, bits, got, want)
			}
			if back, ok := MaskFromSlice(want); !ok || back != m {
				t.Errorf("/%d of %d: MaskFromSlice %v, %v", ones, bits, back, ok)
			}
			if m.Bits() != ones || m.Is4() != (bits == 32) || m.Is6() != (bits == 128) || !m.IsValid() {
				t.Errorf("/%d of %d: Bits %d, Is4 %v, Is6 %v", ones, bits, m.Bits(), m.Is4(), m.Is6())
			}
			var fromText, fromBinary Mask
			text, _ := m.MarshalText()
			bin, _ := m.MarshalBinary()
			if err := fromText.UnmarshalText(text); err != nil || fromText != m {
				t.Errorf("/%d of %d: text %q reads back as %v, %v", ones, bits, text, fromText, err)
			}
			if err := fromBinary.UnmarshalBinary(bin); err != nil || fromBinary != m {
				t.Errorf("/%d of %d: binary %v reads back as %v, %v", ones, bits, bin, fromBinary, err)
			}
			if m.String() != string(text) {
				t.Errorf("/%d of %d: String %q, MarshalText %q", ones, bits, m.String(), text)
			}
		}
	}
}

func TestOddMasks(t *testing.T) {
	odd := MaskFrom4([4]byte{255, 0, 255, 0})
	if odd.Bits() != -1 || odd.String() != "255.0.255.0" || !odd.IsValid() {
		t.Errorf("non-contiguous IPv4 mask: Bits %d, String %q", odd.Bits(), odd)
	}
	var zero Mask
	if zero.IsValid() || zero.Bits() != -1 || zero.AsSlice() != nil || zero.String() != "invalid Mask" {
		t.Errorf("zero Mask: %v %d %v %q", zero.IsValid(), zero.Bits(), zero.AsSlice(), zero)
	}
	if b, _ := zero.MarshalBinary(); b == nil || len(b) != 0 {
		t.Errorf("zero Mask marshals to %#v, want an empty slice", b)
	}
	if m := MaskFrom16([16]byte{0xFF, 0, 0xFF}); m.IsValid() {
		t.Errorf("non-prefix IPv6 mask: %v, want the zero Mask", m)
	}
	for _, bad := range []struct{ ones, bits int }{{-1, 32}, {33, 32}, {129, 128}, {8, 64}} {
		if m := MaskFrom(bad.ones, bad.bits); m.IsValid() {
			t.Errorf("MaskFrom(%d, %d) = %v, want the zero Mask", bad.ones, bad.bits, m)
		}
	}
	if _, ok := MaskFromSlice(make([]byte, 8)); ok {
		t.Error("MaskFromSlice took 8 bytes")
	}
	var m Mask
	for _, text := range []string{"x", "1.2.3", "1.2.3.4.5", "256.0.0.0", "1000"} {
		if err := m.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("UnmarshalText(%q) took it, as %v", text, m)
		}
	}
	if err := m.UnmarshalBinary(make([]byte, 2)); err == nil {
		t.Error("UnmarshalBinary took 2 bytes")
	}
	if !MaskFrom(8, 32).Equal(MaskFrom4([4]byte{255})) || MaskFrom(8, 32).Equal(MaskFrom(8, 128)) {
		t.Error("Equal")
	}
}

// FuzzUnmarshal feeds both decoders arbitrary input: neither may panic,
// and what one accepts must survive its own round trip.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{"", "0", "128", "255.255.255.0", "255.0.255.0", "1.2.3", "x"} {
		f.Add([]byte(s))
	}
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFE})
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, codec := range map[string]struct {
			unmarshal func(*Mask, []byte) error
			marshal   func(Mask) ([]byte, error)
		}{
			"text":   {(*Mask).UnmarshalText, Mask.MarshalText},
			"binary": {(*Mask).UnmarshalBinary, Mask.MarshalBinary},
		} {
			var m, back Mask
			if codec.unmarshal(&m, b) != nil {
				continue
			}
			out, err := codec.marshal(m)
			if err != nil {
				t.Fatalf("%s: %v accepted from %q does not marshal: %v", name, m, b, err)
			}
			if err := codec.unmarshal(&back, out); err != nil || back != m {
				t.Fatalf("%s: %v from %q came back as %v, %v", name, m, b, back, err)
			}
			_ = m.String()
			_ = m.AsSlice()
			_ = m.Bits()
		}
	})
}
