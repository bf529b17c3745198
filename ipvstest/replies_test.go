package ipvstest

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The fixture of the library's capture test (capture_integration_test.go),
// whose real replies are stored in testdata/replies/linux-*.
var (
	capTCP  = svcSpec{af: ipvsh.AFInet, proto: 6, addr: "10.0.0.1", port: 80, sched: "rr", mask: ^uint32(0)}
	capUDP6 = svcSpec{af: ipvsh.AFInet6, proto: 17, addr: "2001:db8::1", port: 53, sched: "wlc",
		flags: ipvsh.SvcFPersistent, mask: ^uint32(0), timeout: 300, netmask: []byte{64, 0, 0, 0}}
	capFWM = svcSpec{af: ipvsh.AFInet, fwmark: 7, sched: "sh", flags: ipvsh.SvcFSched1 | ipvsh.SvcFSched2, mask: ^uint32(0)}
	capSIP = svcSpec{af: ipvsh.AFInet, proto: 17, addr: "10.0.0.5", port: 5060, sched: "rr", pe: "sip",
		flags: ipvsh.SvcFPersistent, mask: ^uint32(0), timeout: 60, netmask: []byte{255, 255, 255, 0}}
)

// captureFixture builds the fixture on a Fake, and returns the daemons'
// dump taken while they ran, as the capture test does.
func captureFixture(t *testing.T, c *rawConn) reply {
	for _, s := range []svcSpec{capTCP, capUDP6, capFWM, capSIP} {
		c.must(ipvsh.CmdNewService, s.put)
	}
	c.must(ipvsh.CmdNewDest, both(capTCP.id(), destSpec{addr: "192.168.7.2", port: 8080, fwd: ipvsh.ConnFMasq, weight: 3}))
	c.must(ipvsh.CmdNewDest, both(capTCP.id(), destSpec{addr: "192.168.7.4", port: 80, fwd: ipvsh.ConnFTunnel, weight: 2,
		tunType: ipvsh.TunnelTypeGUE, tunPort: 6080, tunFlags: ipvsh.TunnelEncapFlagCsum}))
	c.must(ipvsh.CmdNewDest, both(capUDP6.id(), destSpec{addr: "2001:db8::2", port: 53, fwd: ipvsh.ConnFDroute,
		weight: 100, uthresh: 1000, lthresh: 800}))
	c.must(ipvsh.CmdSetConfig, func(w *fakekernel.Writer) {
		w.U32(ipvsh.CmdAttrTimeoutTCP, 1000)
		w.U32(ipvsh.CmdAttrTimeoutTCPFin, 20)
		w.U32(ipvsh.CmdAttrTimeoutUDP, 30)
	})
	c.f.AddInterface("sync0", 1500)
	c.must(ipvsh.CmdNewDaemon, daemonSpec{state: ipvsh.StateMaster, ifname: "sync0", syncID: 7, maxLen: 1000,
		group: "239.1.2.3", port: 12345, ttl: 2}.put)
	c.must(ipvsh.CmdNewDaemon, daemonSpec{state: ipvsh.StateBackup, ifname: "sync0", syncID: 9,
		group: "ff02::81", port: 8849, ttl: 1}.put)
	daemons := c.do(ipvsh.CmdGetDaemon, nlmsg.FlagDump, nil)
	c.must(ipvsh.CmdDelDaemon, stateOnly(ipvsh.StateMaster))
	c.must(ipvsh.CmdDelDaemon, stateOnly(ipvsh.StateBackup))
	c.must(ipvsh.CmdNewDest, both(capTCP.id(), destSpec{af: ipvsh.AFInet6, addr: "2001:db8::7", port: 80,
		fwd: ipvsh.ConnFTunnel, weight: 1, tunType: ipvsh.TunnelTypeGRE}))
	return daemons
}

// TestCapturedReplies checks the model's encoders byte for byte against
// the replies of each real kernel to the same requests.
func TestCapturedReplies(t *testing.T) {
	dirs, _ := filepath.Glob("../testdata/replies/linux-*")
	if len(dirs) == 0 {
		t.Fatal("no captured replies in ../testdata/replies")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := NewFake()
			if filepath.Base(dir) == "linux-7.2" {
				f.SetConnectionTableSize(256) // a table of the namespace's own
			}
			c := newRawConn(t, f)
			daemons := captureFixture(t, c)
			got := map[string][]byte{}
			multi := func(name string, r reply) {
				if len(r.msgs) == 1 {
					got[name] = r.msgs[0]
				}
				for i, m := range r.msgs {
					got[name+"_"+string(rune('0'+i))] = m
				}
			}
			multi("daemons", daemons)
			for name, s := range map[string]svcSpec{"service_tcp4": capTCP, "service_udp6": capUDP6,
				"service_fwmark4": capFWM, "service_sip4": capSIP} {
				got[name] = c.do(ipvsh.CmdGetService, 0, s.id().put).msgs[0]
			}
			multi("dests_tcp4", c.do(ipvsh.CmdGetDest, nlmsg.FlagDump, capTCP.id().put))
			multi("dests_udp6", c.do(ipvsh.CmdGetDest, nlmsg.FlagDump, capUDP6.id().put))
			got["info"] = c.do(ipvsh.CmdGetInfo, 0, nil).msgs[0]
			got["timeouts"] = c.do(ipvsh.CmdGetConfig, 0, nil).msgs[0]
			files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
			for _, file := range files {
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.Base(file[:len(file)-len(".bin")])
				if !bytes.Equal(got[name], want) {
					t.Errorf("%s:\n got %s\nwant %s", name, hex.EncodeToString(got[name]), hex.EncodeToString(want))
				}
			}
		})
	}
}
