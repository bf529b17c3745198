//go:build integration && linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/internal/netns"
)

// ours are the parts of ipvsctl's save that ipvsadm's leaves out.
var ours = regexp.MustCompile(`(?m)^(--set|--start-daemon) .*\n| -x \d+| -y \d+`)

// must runs a program in ns and fails the test on a non-zero status.
func must(t *testing.T, ns *netns.NS, stdin, name string, args ...string) string {
	t.Helper()
	r, err := ns.Run(stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 {
		t.Fatalf("%s %s: status %d: %s%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// sameSave wants ipvsctl's save to be ipvsadm's plus thresholds, timeouts
// and daemons.
func sameSave(t *testing.T, ns *netns.NS, bin, args string, full bool) {
	t.Helper()
	want := unsignedMarks(must(t, ns, "", "ipvsadm", strings.Fields(args)...))
	got := must(t, ns, "", bin, strings.Fields(args)...)
	if stripped := ours.ReplaceAllString(got, ""); stripped != want {
		t.Errorf("%s:\nipvsadm:\n%s\nipvsctl, less its additions:\n%s", args, want, stripped)
	}
	if !full {
		return
	}
	for _, s := range []string{"\n--set 1000 100 200\n", " -x 100 -y 10\n", "--start-daemon master --mcast-interface dum0 --syncid 7 --sync-maxlen 1200 --mcast-group 239.9.9.9 --mcast-port 8848 --mcast-ttl 1\n",
		"--start-daemon backup --mcast-interface dum0 --syncid 8 --sync-maxlen 1024 --mcast-group 224.0.0.100 --mcast-port 9000 --mcast-ttl 3\n"} {
		if !strings.Contains(got, s) {
			t.Errorf("%s: no %q in\n%s", args, s, got)
		}
	}
}

// negativeMark is a mark of 2^31 or more as ipvsadm 1.31 saves it.
var negativeMark = regexp.MustCompile(`-f (-\d+)`)

// unsignedMarks writes the marks of ipvsadm's save as ipvsctl does.
func unsignedMarks(save string) string {
	return negativeMark.ReplaceAllStringFunc(save, func(m string) string {
		n, _ := strconv.ParseInt(m[3:], 10, 64)
		return "-f " + strconv.FormatUint(uint64(uint32(int32(n))), 10)
	})
}

// sameLines compares two saves as sets of lines: where addresses are more
// than 2^31 apart, ipvsadm's comparison is not an order, and its sort
// then depends on the order the kernel lists them in.
func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}

// TestKernelSaveRestore checks the save and the restore both ways: stock
// ipvsadm restores ipvsctl's save to the same table, thresholds, timeouts
// and daemons included; ipvsctl restores ipvsadm's save to the same table.
func TestKernelSaveRestore(t *testing.T) {
	bin := ipvsctlPath(t)
	for i, c := range corpora {
		saveRestore(t, bin, c, i == 0)
	}
	greRemoteChecksum(t, bin)
}

// saveRestore checks the save and restore both ways over one corpus.
func saveRestore(t *testing.T, bin, corpus string, full bool) {
	src := newNS(t)
	build(t, src, corpus)
	sameSave(t, src, bin, "-Sn", full)
	theirs := must(t, src, "", "ipvsadm", "-Sn")
	mine := must(t, src, "", bin, "-Sn")

	byStock := newNS(t)
	must(t, byStock, mine, "ipvsadm", "-R")
	if got := must(t, byStock, "", bin, "-Sn"); !sameLines(got, mine) {
		t.Errorf("ipvsadm -R of ipvsctl's save:\n%s\nwant:\n%s", got, mine)
	}
	byUs := newNS(t)
	must(t, byUs, theirs, bin, "-R")
	if got := must(t, byUs, "", "ipvsadm", "-Sn"); !sameLines(got, theirs) {
		t.Errorf("ipvsctl -R of ipvsadm's save:\n%s\nwant:\n%s", got, theirs)
	}
	// Restoring a save onto its own table changes nothing.
	if plan := must(t, byUs, theirs, bin, "-R", "--dry-run"); plan != "" {
		t.Errorf("plan of a restore onto the same table:\n%s", plan)
	}

}

// greRemoteChecksum checks the line ipvsadm 1.31 saves for a GRE
// destination with remote checksum and then refuses: ipvsctl reads it.
func greRemoteChecksum(t *testing.T, bin string) {
	gre := newNS(t)
	saved := "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -i -w 1 --tun-type gre --tun-remcsum\n"
	must(t, gre, saved, bin, "-R")
	if got := must(t, gre, "", "ipvsadm", "-Sn"); got != saved {
		t.Errorf("ipvsadm -Sn after restoring a GRE remcsum line:\n%s\nwant:\n%s", got, saved)
	}
	if r, _ := newNS(t).Run(saved, "ipvsadm", "-R"); r.Code == 0 {
		t.Logf("this ipvsadm reads back a GRE remcsum line: %s", r.Stderr)
	}
}

// echo serves TCP in ns at addr, echoing lines.
func echo(t *testing.T, ns *netns.NS, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
}

// roundTrip sends a line on c and reads it back.
func roundTrip(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echoed %q, want %q", buf, msg)
	}
	return nil
}

// TestKernelRestoreIsADiff restores, while a TCP connection through a
// service is open, a table that changes other parts: the connection
// survives, the service it uses is not touched, a service the input does
// not name stays, and the listing of connections matches ipvsadm's.
func TestKernelRestoreIsADiff(t *testing.T) {
	bin := ipvsctlPath(t)
	director := newNS(t)
	client, err := director.ClientOn(netip.MustParsePrefix("10.98.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, err := director.Sh("ip addr add 10.98.1.1/24 dev lo && ip addr add 10.98.2.1/32 dev lo && ip addr add 10.98.2.2/32 dev lo"); err != nil {
		t.Fatal(err)
	}
	echo(t, director, "10.98.2.1:8080")
	echo(t, director, "10.98.2.2:8080")
	build(t, director, `
-A -t 10.98.1.1:80 -s rr
-a -t 10.98.1.1:80 -r 10.98.2.1:8080 -m
-A -t 10.98.1.2:80 -s wlc
-a -t 10.98.1.2:80 -r 10.98.2.2:8080 -m -w 5
-A -u 10.98.1.3:53 -s rr
`)
	var conn net.Conn
	if err := client.Do(func() (err error) { conn, err = net.DialTimeout("tcp", "10.98.1.1:80", 5*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := roundTrip(conn, "before\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // for the delayed ACK, which resets the expiry
	for _, args := range []string{"-Lnc", "-Lnc --persistent-conn", "-Ln --stats --exact", "-Ln --persistent-conn"} {
		same(t, director, bin, "", args)
	}

	// The input names the service in use, as it is, and changes another;
	// it does not name 10.98.1.3:53.
	input := `# a comment ipvsadm would refuse
-A -t 10.98.1.1:80 -s rr
-a -t 10.98.1.1:80 -r 10.98.2.1:8080 -m -w 1
-A -t 10.98.1.2:80 -s rr
-a -t 10.98.1.2:80 -r 10.98.2.2:8080 -m -w 2 -x 50
-A -t 10.98.1.4:80 -s wlc -p 30
ipvsadm -a -t 10.98.1.4:80 -r 10.98.2.1:8080 -m
--set 0 60 0
`
	plan := must(t, director, input, bin, "-R", "--dry-run")
	for _, want := range []string{"update service tcp 10.98.1.2:80", "create service tcp 10.98.1.4:80", "set timeouts"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan has no %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "10.98.1.1:80") || strings.Contains(plan, "10.98.1.3:53") {
		t.Errorf("plan touches a service that stays:\n%s", plan)
	}
	before := must(t, director, "", "ipvsadm", "-Sn")
	if strings.Contains(before, "10.98.1.4") {
		t.Fatal("--dry-run changed the table")
	}
	must(t, director, input, bin, "-R")
	if err := roundTrip(conn, "after\n"); err != nil {
		t.Fatalf("the connection did not survive the restore: %v", err)
	}
	want := `-A -t 10.98.1.1:80 -s rr
-a -t 10.98.1.1:80 -r 10.98.2.1:8080 -m -w 1
-A -t 10.98.1.2:80 -s rr
-a -t 10.98.1.2:80 -r 10.98.2.2:8080 -m -w 2
-A -t 10.98.1.4:80 -s wlc -p 30
-a -t 10.98.1.4:80 -r 10.98.2.1:8080 -m -w 1
-A -u 10.98.1.3:53 -s rr
`
	if got := must(t, director, "", "ipvsadm", "-Sn"); got != want {
		t.Errorf("after the restore:\n%s\nwant:\n%s", got, want)
	}
	if got := must(t, director, "", "ipvsadm", "-Ln", "--timeout"); !strings.Contains(got, " 60 ") {
		t.Errorf("timeouts: %s", got)
	}
	if r := must(t, director, "", "ipvsadm", "-Lnc"); !strings.Contains(r, "ESTABLISHED") {
		t.Errorf("the connection is gone from the table:\n%s", r)
	}

	// --flush makes the table the input's alone, still as a diff.
	must(t, director, input, bin, "-R", "--flush")
	if got := must(t, director, "", "ipvsadm", "-Sn"); strings.Contains(got, "10.98.1.3") {
		t.Errorf("--flush left a service the input does not name:\n%s", got)
	}
	if err := roundTrip(conn, "flushed\n"); err != nil {
		t.Fatalf("the connection did not survive the --flush restore: %v", err)
	}
	// --netns reaches the same table from outside.
	if got := must(t, newNS(t), "", bin, "--netns", director.Path(), "-Sn"); !strings.Contains(got, "-A -t 10.98.1.4:80 -s wlc -p 30\n") {
		t.Errorf("--netns -Sn:\n%s", got)
	}
}

// TestKernelApply converges an empty table to the YAML listing of the
// corpus, which must then save as the corpus does; applying it again plans
// nothing.
func TestKernelApply(t *testing.T) {
	bin := ipvsctlPath(t)
	for _, c := range corpora {
		src := newNS(t)
		build(t, src, c)
		listing := must(t, src, "", bin, "-Ln", "--yaml")
		dst := newNS(t)
		must(t, dst, listing, bin, "apply", "-f", "-")
		if got, want := must(t, dst, "", "ipvsadm", "-Sn"), must(t, src, "", "ipvsadm", "-Sn"); !sameLines(got, want) {
			t.Errorf("after apply:\n%s\nwant:\n%s", got, want)
		}
		if plan := must(t, dst, must(t, src, "", bin, "-Ln", "-j"), bin, "apply", "-f", "-", "--dry-run"); plan != "" {
			t.Errorf("plan of the same table:\n%s", plan)
		}
	}
}

// TestKernelRestoreChecksFirst: a scheduler this kernel has no module
// for, or a value the library refuses, stops the restore before its first
// write, naming the line, where ipvsadm applies the lines before it.
func TestKernelRestoreChecksFirst(t *testing.T) {
	bin := ipvsctlPath(t)
	for _, tt := range []struct{ input, msg string }{
		{"-D -t 10.97.0.1:80\n-A -t 10.97.0.3:80 -s nosuch\n", "line 2: scheduler \"nosuch\": this kernel has no module ip_vs_nosuch (nothing was changed)\n"},
		{"-D -t 10.97.0.1:80\n-a -t 10.97.0.2:80 -r 10.97.1.9 -m -y 5\n", "line 2: invalid destination lower threshold: 5 is above the upper threshold 0 (the kernel refuses this even when the upper one is 0) (nothing was changed)\n"},
	} {
		ns := newNS(t)
		build(t, ns, "-A -t 10.97.0.1:80 -s rr\n-A -t 10.97.0.2:80 -s wlc\n")
		before := must(t, ns, "", "ipvsadm", "-Sn")
		r, err := ns.Run(tt.input, bin, "-R")
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 2 || r.Stderr != tt.msg {
			t.Errorf("%q: status %d, %q; want 2, %q", tt.input, r.Code, r.Stderr, tt.msg)
		}
		if after := must(t, ns, "", "ipvsadm", "-Sn"); after != before {
			t.Errorf("%q: the table changed:\n%s\nwas:\n%s", tt.input, after, before)
		}
		theirs := newNS(t)
		build(t, theirs, "-A -t 10.97.0.1:80 -s rr\n-A -t 10.97.0.2:80 -s wlc\n")
		r, _ = theirs.Run(tt.input, "ipvsadm", "-R")
		t.Logf("ipvsadm -R of %q: status %d, %q; its table after:\n%s", tt.input, r.Code, r.Stderr, must(t, theirs, "", "ipvsadm", "-Sn"))
	}
	// Every scheduler the corpus uses is found (twos where the kernel has
	// it), so the check refuses only what is missing.
	ns := newNS(t)
	for _, s := range cli.Schedulers {
		line := fmt.Sprintf("-A -t 10.97.2.1:80 -s %s\n", s)
		r, err := ns.Run(line, bin, "-R", "--dry-run")
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 0 {
			if s == "twos" {
				t.Logf("twos: %s", r.Stderr)
				continue
			}
			t.Errorf("-s %s: status %d, %s", s, r.Code, r.Stderr)
		}
	}
}
