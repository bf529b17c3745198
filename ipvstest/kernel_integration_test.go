//go:build integration && linux

package ipvstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// TestKernelDifferential runs the scenario on the kernel and on the model
// side by side, the model set to the kernel's version, and compares every
// result and, after each step, the table.
func TestKernelDifferential(t *testing.T) {
	ctx := t.Context()
	kc, ns := NewKernelClient(t)
	if out, err := ns.Run("ip", "link", "add", "sync0", "type", "dummy"); err != nil {
		t.Fatalf("dummy interface: %v: %s", err, out)
	}
	if out, err := ns.Run("ip", "link", "set", "sync0", "up"); err != nil {
		t.Fatalf("sync0 up: %v: %s", err, out)
	}
	kraw := newKernelRaw(t, ns)
	f := NewFake()
	f.AddInterface("sync0", 1500)
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor); err != nil {
		t.Fatal(err)
	}
	f.SetKernelVersion(major, minor)
	fc, fraw := f.Client(t), newRawConn(t, f)
	for i, s := range scenario() {
		var kerr, ferr error
		if s.raw != nil {
			kerr, ferr = kraw.do(s.raw), runRaw(fraw, s.raw)
		} else {
			kerr, ferr = s.do(ctx, kc), s.do(ctx, fc)
		}
		// The unit tests hold the model to s.want for the newest kernel;
		// here it must match this kernel.
		if errnoOf(kerr) != errnoOf(ferr) || (kerr == nil) != (ferr == nil) {
			t.Errorf("step %d %q: kernel %v, model %v", i, s.name, kerr, ferr)
		}
		if d := diffTables(ctx, kc, fc); d != "" && !s.unreadable {
			t.Errorf("step %d %q: tables differ:\n%s", i, s.name, d)
		}
		if d := diffReplies(kraw, fraw); d != "" {
			t.Errorf("step %d %q: replies differ:\n%s", i, s.name, d)
		}
	}
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	errors.As(err, &e)
	return e
}

// diffTables compares what two clients read: services (in any order, as
// the kernel lists them in hash order) with their destinations, the
// timeouts and the daemons.
func diffTables(ctx context.Context, kernel, model *ipvs.Client) string {
	var b strings.Builder
	read := func(c *ipvs.Client) (vs []ipvs.VirtualServer, to ipvs.Timeouts, ds []ipvs.Daemon, err error) {
		if vs, err = c.VirtualServers(ctx); err != nil {
			return
		}
		slices.SortFunc(vs, func(a, b ipvs.VirtualServer) int { return strings.Compare(a.String(), b.String()) })
		if to, err = c.Timeouts(ctx); err != nil {
			return
		}
		ds, err = c.Daemons(ctx)
		return
	}
	kv, kt, kd, kerr := read(kernel)
	mv, mt, md, merr := read(model)
	if kerr != nil || merr != nil {
		return fmt.Sprintf("read: kernel %v, model %v", kerr, merr)
	}
	for i := range max(len(kv), len(mv)) {
		var k, m any = "none", "none"
		if i < len(kv) {
			k = kv[i]
		}
		if i < len(mv) {
			m = mv[i]
		}
		if !reflect.DeepEqual(k, m) {
			fmt.Fprintf(&b, "service %d:\n  kernel %+v\n  model  %+v\n", i, k, m)
		}
	}
	if kt != mt {
		fmt.Fprintf(&b, "timeouts: kernel %+v, model %+v\n", kt, mt)
	}
	if !reflect.DeepEqual(kd, md) {
		fmt.Fprintf(&b, "daemons:\n  kernel %+v\n  model  %+v\n", kd, md)
	}
	return b.String()
}

// kernelRaw sends raw requests to the kernel's IPVS in a namespace.
type kernelRaw struct {
	t  testing.TB
	nc *netlink.Conn
	id uint16
}

func newKernelRaw(t testing.TB, ns *NetNS) *kernelRaw {
	nc, err := netlink.Dial(unix.NETLINK_GENERIC, &netlink.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	fam, err := genetlink.NewConn(nc).GetFamily("IPVS")
	if err != nil {
		t.Fatal(err)
	}
	return &kernelRaw{t: t, nc: nc, id: fam.ID}
}

// diffReplies compares the bytes of the replies to every read, message
// by message: the services (in any order), each one's destinations, the
// daemons and the timeouts.
func diffReplies(k *kernelRaw, m *rawConn) string {
	var b strings.Builder
	compare := func(what string, r *rawRequest, anyOrder bool) [][]byte {
		km, kerr := k.read(r)
		rep := m.do(r.cmd, r.flags, r.body)
		mm := rep.msgs
		if kerr != nil || rep.errno != 0 {
			fmt.Fprintf(&b, "%s: kernel %v, model %v\n", what, kerr, rep.errno)
			return nil
		}
		if anyOrder {
			slices.SortFunc(km, bytes.Compare)
			slices.SortFunc(mm, bytes.Compare)
		}
		if !slices.EqualFunc(km, mm, bytes.Equal) {
			fmt.Fprintf(&b, "%s:\n  kernel %x\n  model  %x\n", what, km, mm)
		}
		return km
	}
	for _, svc := range compare("services", &rawRequest{cmd: 4, flags: nlmsg.FlagDump}, true) {
		as := fakekernel.ParseAttrs(svc[nlmsg.GenlHeaderLen:], 0)
		id := func(w *fakekernel.Writer) { w.Bytes(1, as.A[1].Data) } // the service nest as the kernel sent it
		compare(fmt.Sprintf("destinations of %x", as.A[1].Data[:min(40, len(as.A[1].Data))]), &rawRequest{cmd: 8, flags: nlmsg.FlagDump, body: id}, false)
	}
	compare("daemons", &rawRequest{cmd: 11, flags: nlmsg.FlagDump}, false)
	compare("timeouts", &rawRequest{cmd: 13}, false)
	return b.String()
}

// read sends a read and returns the payloads of its replies.
func (k *kernelRaw) read(r *rawRequest) ([][]byte, error) {
	w := fakekernel.GenlMsg(r.cmd, 1)
	if r.body != nil {
		r.body(&w)
	}
	if err := k.nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	msgs, err := k.nc.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(k.id), Flags: netlink.Request | netlink.HeaderFlags(r.flags)},
		Data:   w.B,
	})
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.Data)
	}
	return out, err
}

func (k *kernelRaw) do(r *rawRequest) error {
	w := fakekernel.GenlMsg(r.cmd, 1)
	if r.body != nil {
		r.body(&w)
	}
	if err := k.nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err := k.nc.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(k.id), Flags: netlink.Request | netlink.Acknowledge | netlink.HeaderFlags(r.flags)},
		Data:   w.B,
	})
	return err
}

// TestKernelClients runs tests in parallel, each with a namespace of its
// own: the same service in each, seen by ipvsadm in that one only.
func TestKernelClients(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			c, ns := NewKernelClient(t)
			port := uint16(8000 + i)
			svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: sTCP.Address, Port: port, Scheduler: "rr"}
			if err := c.CreateService(t.Context(), svc); err != nil {
				t.Fatal(err)
			}
			out, err := ns.Run("ipvsadm", "-Ln")
			if err != nil {
				t.Fatalf("ipvsadm: %v: %s", err, out)
			}
			if n := strings.Count(out, "TCP  "); n != 1 || !strings.Contains(out, fmt.Sprintf("10.0.0.1:%d", port)) {
				t.Errorf("ipvsadm in the namespace lists:\n%s", out)
			}
		})
	}
}
