//go:build integration && linux

package ipvstest

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// TestKernelDumpChunks compares how the kernel and the model split dumps
// into datagrams, for sockets that read with small and large buffers.
func TestKernelDumpChunks(t *testing.T) {
	kc, ns := NewKernelClient(t)
	f := NewFake()
	fc := f.Client(t)
	var b ipvs.Batch
	for i := range 300 {
		b.CreateService(with(sTCP, func(s *ipvs.Service) { s.Port = uint16(i + 1) }))
	}
	for j := range 150 {
		b.CreateDestination(with(sTCP, func(s *ipvs.Service) { s.Port = 1 }),
			ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 2, byte(j), 1}), Port: 80, Weight: 1})
	}
	for _, c := range []*ipvs.Client{kc, fc} {
		if _, err := c.Apply(t.Context(), &b); err != nil {
			t.Fatal(err)
		}
	}
	fam := newKernelRaw(t, ns)
	first := with(sTCP, func(s *ipvs.Service) { s.Port = 1 })
	for _, size := range []int{4096, 16384, 65536} {
		for _, r := range []rawRequest{{cmd: ipvsh.CmdGetService, flags: nlmsg.FlagDump},
			{cmd: ipvsh.CmdGetDest, flags: nlmsg.FlagDump, body: rawSvc(first).put}} {
			w := fakekernel.GenlMsg(r.cmd, ipvsh.GenlVersion)
			if r.body != nil {
				r.body(&w)
			}
			m := modelChunks(t, f, nlmsg.AppendMessage(nil, modelFamily(f), r.flags|nlmsg.FlagRequest, 1, 0, w.B), size)
			// The kernel resumes each chunk at an index that counts the
			// services of every namespace, so a namespace torn down
			// meanwhile (an earlier test's) shifts it and the dump skips
			// or repeats some: such a dump, whose total is not the
			// model's, says nothing of chunking and is read again.
			var k []int
			for try := range 5 {
				k = kernelChunks(t, ns, nlmsg.AppendMessage(nil, fam.id, r.flags|nlmsg.FlagRequest, 1, 0, w.B), size)
				if sum(k) == sum(m) {
					break
				}
				t.Logf("cmd %d, reads of %d bytes, try %d: the kernel dumped %d objects of %d, another namespace changed meanwhile", r.cmd, size, try+1, sum(k), sum(m))
			}
			t.Logf("cmd %d, reads of %d bytes: messages per datagram %v", r.cmd, size, k)
			if !slices.Equal(k, m) {
				t.Errorf("cmd %d, reads of %d bytes: messages per datagram: kernel %v, model %v", r.cmd, size, k, m)
			}
		}
	}
}

func sum(counts []int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// countMessages returns the data messages of a datagram, and whether it
// ended the dump.
func countMessages(t *testing.T, b []byte) (n int, done bool) {
	for len(b) >= nlmsg.HeaderLen {
		h, err := nlmsg.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		switch h.Type {
		case nlmsg.TypeDone, nlmsg.TypeError:
			return n, true
		}
		n++
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
	}
	return n, false
}

// kernelChunks sends req on a fresh socket in ns and reads the dump with
// a buffer of size bytes, one datagram per read.
func kernelChunks(t *testing.T, ns *NetNS, req []byte, size int) []int {
	var counts []int
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		buf := make([]byte, size)
		for range 1000 {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return err
			}
			c, done := countMessages(t, buf[:n])
			counts = append(counts, c)
			if done {
				return nil
			}
		}
		return fmt.Errorf("no end of the dump")
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

func modelChunks(t *testing.T, f *Fake, req []byte, size int) []int {
	s, err := f.k.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(req, true); err != nil {
		t.Fatal(err)
	}
	var counts []int
	buf := make([]byte, size)
	for range 1000 {
		n, err := s.Recv(buf, false)
		if err != nil {
			t.Fatal(err)
		}
		c, done := countMessages(t, buf[:n])
		counts = append(counts, c)
		if done {
			return counts
		}
	}
	t.Fatal("no end of the dump")
	return nil
}

// modelFamily is the family ID of f.
func modelFamily(f *Fake) uint16 {
	id, _ := f.k.Family()
	return id
}
