package ipvs

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

func TestPrefixMask(t *testing.T) {
	for _, tt := range []struct {
		in, v4, v6 int
	}{{-5, -1, -1}, {0, 0, 0}, {24, 24, 24}, {64, 64, 64}, {129, 129, 129}, {253, 253, 253}, {1000, 253, 253}} {
		m := PrefixMask(tt.in)
		if got4, got6 := m.Bits(FamilyIPv4), m.Bits(FamilyIPv6); got4 != tt.v4 || got6 != tt.v6 {
			t.Errorf("PrefixMask(%d).Bits = %d, %d; want %d, %d", tt.in, got4, got6, tt.v4, tt.v6)
		}
	}
	if (Netmask{}).Bits(FamilyIPv4) != 32 || (Netmask{}).Bits(FamilyIPv6) != 128 {
		t.Error("the zero Netmask is not full length")
	}
}

// TestIPv4Mask: any 32-bit mask the kernel keeps is kept, and contiguous
// ones are the same Netmask as their prefix.
func TestIPv4Mask(t *testing.T) {
	for _, tt := range []struct {
		mask [4]byte
		want Netmask
		str  string
	}{
		{[4]byte{255, 255, 255, 0}, PrefixMask(24), "/24"},
		{[4]byte{0, 0, 0, 0}, PrefixMask(0), "/0"},
		{[4]byte{255, 255, 255, 255}, Netmask{}, "full"},
		{[4]byte{255, 0, 255, 0}, Netmask{mask: 0xff00ff00}, "255.0.255.0"},
		{[4]byte{0, 0, 0, 1}, Netmask{mask: 1}, "0.0.0.1"},
	} {
		m := IPv4Mask(tt.mask)
		if m != tt.want || m.String() != tt.str || m.IPv4Mask() != tt.mask {
			t.Errorf("IPv4Mask(%v) = %#v %q, back %v; want %#v %q", tt.mask, m, m, m.IPv4Mask(), tt.want, tt.str)
		}
	}
	if err := IPv4Mask([4]byte{255, 0, 255, 0}).check(FamilyIPv6); err == nil {
		t.Error("an ipv4 mask was accepted for an ipv6 service")
	}
}

// TestReadModifyWriteKeepsNetmask: a service read back and written again
// sends the netmask the kernel reported, whatever it is.
func TestReadModifyWriteKeepsNetmask(t *testing.T) {
	for _, mask := range []uint32{0xff00ff00, 0xffffff00, 0xffffffff, 0, 0x80000001} {
		svc := tcp4
		svc.Family, svc.Flags, svc.Netmask = FamilyIPv4, FlagPersistent|FlagHashed, netmaskFromWire(FamilyIPv4, mask)
		reply := kernelService(svc, fakekernel.Options{})
		var read Service
		if err := decodeServiceMessage(reply, &read); err != nil {
			t.Fatal(err)
		}
		var got [4]byte
		k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
			var sent Service
			if err := decodeNested(req.Attrs, ipvsh.CmdAttrService, "SERVICE", sent.decode); err != nil {
				t.Fatal(err)
			}
			got = sent.Netmask.IPv4Mask()
			return fakekernel.Answer{}
		})
		read.Scheduler = "wlc"
		if err := testClient(t, k).UpdateService(context.Background(), read); err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint32(got[:]) != mask {
			t.Errorf("mask %#x read back and written as %v", mask, netip.AddrFrom4(got))
		}
	}
}
