//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	lib "github.com/ipvs-go/ipvs"
)

// The conntrack suite times the flush of removed real servers' conntrack
// entries: -services entries of UDP flows to one virtual service, spread
// over -dests real servers, of which the flush deletes those of one, and
// of half of them at once. The library's FlushConntrack (one dump for any
// number of destinations) runs against Debian's conntrack -D with the
// same filter (one run per destination), on the same table, refilled
// between runs.
func init() { registerSuite("conntrack", conntrackSuite) }

var (
	ctBenchVIP = netip.MustParseAddr("10.99.1.1")
	ctBenchSvc = lib.Service{Protocol: lib.ProtocolUDP, Address: ctBenchVIP, Port: 53}
)

// ctBenchReal is the address of real server j.
func ctBenchReal(j int) netip.Addr { return netip.AddrFrom4([4]byte{10, 97, byte(j), 2}) }

// ctBenchFlow is the entry of flow i, to real server i % dests: from a
// client address and port of its own to the virtual service, answered
// by the real server.
func ctBenchFlow(i, dests int) conntrack.Flow {
	client := netip.AddrFrom4([4]byte{10, 98, byte(i >> 14), byte(i >> 6)})
	port := uint16(1024 + i&63)
	f := conntrack.NewFlow(unix.IPPROTO_UDP, 0, client, ctBenchVIP, port, 53, 3600, 0)
	f.TupleReply.IP.SourceAddress = ctBenchReal(i % dests)
	return f
}

func conntrackSuite(entries, dests, rep int) error {
	if dests < 2 {
		return fmt.Errorf("the conntrack suite needs at least 2 destinations, not %d", dests)
	}
	if err := setConntrackMax(2 * entries); err != nil {
		return err
	}
	ct, err := conntrack.Dial(nil)
	if err != nil {
		return err
	}
	defer ct.Close()
	c, err := lib.New(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	// fill creates the entries of flows whose server is one of the first
	// k, the ones a run deleted (all of them at the start).
	fill := func(k int) error {
		for i := range entries {
			if k < dests && i%dests >= k {
				continue
			}
			if err := ct.Create(ctBenchFlow(i, dests)); err != nil {
				return fmt.Errorf("create entry %d: %w", i, err)
			}
		}
		return nil
	}
	if err := fill(dests); err != nil {
		return err
	}
	half := dests / 2
	for _, k := range []int{1, half} {
		workload := fmt.Sprintf("flush 1 of %d destinations", dests)
		if k > 1 {
			workload = fmt.Sprintf("flush %d of %d destinations", k, dests)
		}
		want := 0
		for i := range entries {
			if i%dests < k {
				want++
			}
		}
		for _, contender := range []string{"ipvs", "conntrack -D"} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			n, err := flushWith(contender, c, k)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", contender, workload, err)
			}
			if n != want {
				return fmt.Errorf("%s, %s: deleted %d entries, want %d", contender, workload, n, want)
			}
			allocs := int64(after.Mallocs - before.Mallocs)
			if contender != "ipvs" {
				allocs = -1
			}
			emit(result{Group: "conntrack", Contender: contender, Workload: workload, Services: entries, Dests: dests, Rep: rep,
				Objects: n, Seconds: elapsed.Seconds(), Allocs: allocs})
			if err := fill(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushWith deletes the entries of the first k real servers and returns
// how many went: through the library, or through conntrack -D, once per
// server, as a script that removes them would.
func flushWith(contender string, c *lib.Client, k int) (int, error) {
	if contender == "ipvs" {
		filters := make([]lib.ConntrackFilter, k)
		for j := range k {
			filters[j] = lib.ConntrackFilter{Service: ctBenchSvc, Destination: lib.Destination{Address: ctBenchReal(j)}}
		}
		return c.FlushConntrack(context.Background(), filters...)
	}
	total := 0
	for j := range k {
		out, err := exec.Command("conntrack", "-D", "-p", "udp", "--orig-dst", ctBenchVIP.String(), "--orig-port-dst", "53",
			"--reply-src", ctBenchReal(j).String(), "--reply-port-src", "53").CombinedOutput()
		// It exits 1 when it deleted nothing: its count says it all.
		m := deletedRe.FindSubmatch(out)
		if m == nil {
			return total, fmt.Errorf("conntrack -D: %v: %s", err, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		total += n
	}
	return total, nil
}

var deletedRe = regexp.MustCompile(`(\d+) flow entries have been deleted`)

// setConntrackMax raises the host's conntrack table limit, which only
// the initial namespace may write, from a thread that enters it and ends
// with this call.
func setConntrackMax(n int) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the other namespace
		f, err := os.Open("/proc/1/ns/net")
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		if err == nil {
			err = os.WriteFile("/proc/sys/net/netfilter/nf_conntrack_max", []byte(fmt.Sprint(n)), 0)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("nf_conntrack_max: %w", err)
	}
	return nil
}
