//go:build linux

package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"

	lib "github.com/ipvs-go/ipvs"
)

// The conntrack suite times the flush of removed real servers' conntrack
// entries: -services entries of UDP flows to one virtual service, spread
// over -dests real servers, of which the flush deletes those of one, and
// of half of them at once. The library's FlushConntrack (one dump for any
// number of destinations) runs against Debian's conntrack -D with the
// same filter (one run per destination), and against ti-mo/conntrack,
// the client the library used before its own, as its API offers a flush
// (the whole table dumped, matched here, a Delete per entry), on the same
// table, refilled between runs.
func init() {
	registerSuite("conntrack", conntrackSuite)
	moreTargets = append(moreTargets, conntrackTargets)
}

var (
	ctBenchVIP = netip.MustParseAddr("10.99.1.1")
	ctBenchSvc = lib.Service{Protocol: lib.ProtocolUDP, Address: ctBenchVIP, Port: 53}
)

// ctBenchReal is the address of real server j.
func ctBenchReal(j int) netip.Addr { return netip.AddrFrom4([4]byte{10, 97, byte(j), 2}) }

// ctBenchCreate returns the ctnetlink request that creates the entry of
// flow i, to real server i % dests: from a client address and port of
// its own to the virtual service, answered by the real server, for an
// hour. The table is filled with these, many to a datagram, through a
// netlink socket of the suite's own, since the library only deletes.
func ctBenchCreate(i, dests int) netlink.Message {
	client := netip.AddrFrom4([4]byte{10, 98, byte(i >> 14), byte(i >> 6)})
	port := uint16(1024 + i&63)
	real := ctBenchReal(i % dests)
	b := []byte{unix.AF_INET, 0, 0, 0} // nfgenmsg
	nest := func(typ uint16, body func()) {
		off := len(b)
		b = append(b, 0, 0, 0, 0)
		body()
		binary.NativeEndian.PutUint16(b[off:], uint16(len(b)-off))
		binary.NativeEndian.PutUint16(b[off+2:], typ|0x8000) // NLA_F_NESTED
	}
	attr := func(typ uint16, v []byte) {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	tuple := func(typ uint16, src, dst netip.Addr, sport, dport uint16) {
		nest(typ, func() {
			nest(1, func() { attr(1, src.AsSlice()); attr(2, dst.AsSlice()) }) // CTA_TUPLE_IP: V4_SRC, V4_DST
			nest(2, func() { attr(1, []byte{unix.IPPROTO_UDP}); attr(2, be16(sport)); attr(3, be16(dport)) })
		})
	}
	tuple(1, client, ctBenchVIP, port, 53)            // CTA_TUPLE_ORIG
	tuple(2, real, client, 53, port)                  // CTA_TUPLE_REPLY
	attr(7, binary.BigEndian.AppendUint32(nil, 3600)) // CTA_TIMEOUT
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(1 << 8), // NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW (0)
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
		},
		Data: b,
	}
}

// ctBenchFill creates the entries of flows 0 to entries-1 whose server
// is one of the first k, the ones a run deleted (all of them at the
// start), a few hundred to a datagram.
func ctBenchFill(nc *netlink.Conn, entries, dests, k int) error {
	var batch []netlink.Message
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := nc.SendMessages(batch); err != nil {
			return err
		}
		for pending := len(batch); pending > 0; {
			msgs, err := nc.Receive()
			if err != nil {
				return fmt.Errorf("create entries: %w", err)
			}
			pending -= len(msgs)
		}
		batch = batch[:0]
		return nil
	}
	for i := range entries {
		if k < dests && i%dests >= k {
			continue
		}
		if batch = append(batch, ctBenchCreate(i, dests)); len(batch) == 256 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func conntrackSuite(entries, dests, rep int) error {
	if dests < 2 {
		return fmt.Errorf("the conntrack suite needs at least 2 destinations, not %d", dests)
	}
	if err := setConntrackMax(2 * entries); err != nil {
		return err
	}
	nc, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := lib.New(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	fill := func(k int) error { return ctBenchFill(nc, entries, dests, k) }
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
		for _, contender := range []string{"ipvs", "conntrack -D", "ti-mo/conntrack"} {
			// Each contender's own peak: the bench's high-water mark is
			// lowered to what it holds now before one in its process, and
			// conntrack -D's are its processes' own (runPeak).
			if err := resetPeakRSS(); err != nil {
				return err
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			n, peak, err := flushWith(contender, c, k)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", contender, workload, err)
			}
			if contender != "conntrack -D" {
				if peak, err = processPeakRSS(os.Getpid()); err != nil {
					return err
				}
			}
			if n != want {
				return fmt.Errorf("%s, %s: deleted %d entries, want %d", contender, workload, n, want)
			}
			allocs := int64(after.Mallocs - before.Mallocs)
			if contender == "conntrack -D" {
				allocs = -1 // another process's
			}
			emit(result{Group: "conntrack", Contender: contender, Workload: workload, Services: entries, Dests: dests, Rep: rep,
				Objects: n, Seconds: elapsed.Seconds(), Allocs: allocs, RSSKiB: peak})
			if err := fill(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushWith deletes the entries of the first k real servers and returns
// how many went: through the library; through ti-mo/conntrack, one dump
// for all; or through conntrack -D, once per server, as a script that
// removes them would, with the largest peak RSS of those processes.
func flushWith(contender string, c *lib.Client, k int) (n int, peak int64, err error) {
	switch contender {
	case "ipvs":
		filters := make([]lib.ConntrackFilter, k)
		for j := range k {
			filters[j] = lib.ConntrackFilter{Service: ctBenchSvc, Destination: lib.Destination{Address: ctBenchReal(j)}}
		}
		n, err = c.FlushConntrack(context.Background(), filters...)
		return n, 0, err
	case "ti-mo/conntrack":
		n, err = flushTiMo(k)
		return n, 0, err
	}
	out, err := tempFile("bench-conntrack-", nil)
	if err != nil {
		return 0, 0, err
	}
	defer out.Close()
	for j := range k {
		if err := out.Truncate(0); err != nil {
			return n, peak, err
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return n, peak, err
		}
		cmd := exec.Command("conntrack", "-D", "-p", "udp", "--orig-dst", ctBenchVIP.String(), "--orig-port-dst", "53",
			"--reply-src", ctBenchReal(j).String(), "--reply-port-src", "53")
		cmd.Stdout, cmd.Stderr = out, out
		// It runs traced (runPeak), at no cost to its time: ptrace stops
		// it only at its exit, a C program without signals.
		kib, runErr := runPeak(cmd)
		peak = max(peak, kib)
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return n, peak, err
		}
		text, _ := io.ReadAll(out)
		// It exits 1 when it deleted nothing: its count says it all.
		m := deletedRe.FindSubmatch(text)
		if m == nil {
			return n, peak, fmt.Errorf("conntrack -D: %v: %s", runErr, text)
		}
		d, _ := strconv.Atoi(string(m[1]))
		n += d
	}
	return n, peak, nil
}

var deletedRe = regexp.MustCompile(`(\d+) flow entries have been deleted`)

// flushTiMo deletes the entries of the first k real servers through
// ti-mo/conntrack: its dump of the IPv4 table, decoded into flows, and its
// Delete of each match, a round trip each.
func flushTiMo(k int) (int, error) {
	ct, err := conntrack.Dial(nil)
	if err != nil {
		return 0, err
	}
	defer ct.Close()
	flows, err := ct.DumpFilter(conntrack.NewFilter().Family(netfilter.ProtoIPv4), nil)
	if err != nil {
		return 0, fmt.Errorf("dump: %w", err)
	}
	removed := make(map[netip.Addr]bool, k)
	for j := range k {
		removed[ctBenchReal(j)] = true
	}
	n := 0
	for _, f := range flows {
		o, r := f.TupleOrig, f.TupleReply
		if o.Proto.Protocol != unix.IPPROTO_UDP || o.IP.DestinationAddress != ctBenchVIP || o.Proto.DestinationPort != 53 ||
			!removed[r.IP.SourceAddress] || r.Proto.SourcePort != 53 {
			continue
		}
		if err := ct.Delete(f); err != nil {
			return n, fmt.Errorf("delete: %w", err)
		}
		n++
	}
	return n, nil
}

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

// conntrackTargets checks the flush's targets: faster than conntrack -D
// with the same filter, for one removed destination and for several; and
// several in one call cheaper than as many calls of one, since the flush
// reads the table once whatever their number. Medians.
func conntrackTargets(results []result, row func(target, size, measured string, ok bool)) {
	type key struct{ contender, workload string }
	secs := map[key][]float64{}
	last := map[key]result{}
	for _, r := range results {
		if r.Group == "conntrack" {
			k := key{r.Contender, r.Workload}
			secs[k] = append(secs[k], r.Seconds)
			last[k] = r
		}
	}
	var ours []key
	for k := range last {
		if k.contender == "ipvs" {
			ours = append(ours, k)
		}
	}
	slices.SortFunc(ours, func(a, b key) int { return cmp.Compare(last[a].Objects, last[b].Objects) })
	for _, k := range ours {
		if tool := (key{"conntrack -D", k.workload}); len(secs[tool]) > 0 {
			r := median(secs[tool]) / median(secs[k])
			row("conntrack: "+k.workload+" faster than conntrack -D", fmt.Sprintf("%d entries", last[k].Services), fmt.Sprintf("%.1f×", r), r > 1)
		}
	}
	if len(ours) >= 2 {
		one, many := ours[0], ours[len(ours)-1]
		n := last[many].Objects / max(last[one].Objects, 1)
		m, each := median(secs[many]), median(secs[one])
		row(fmt.Sprintf("conntrack: %s in one call cheaper than %d calls of one", many.workload, n),
			fmt.Sprintf("%d entries", last[many].Services), fmt.Sprintf("%.2f s against %d × %.2f s", m, n, each), m < float64(n)*each)
	}
}
