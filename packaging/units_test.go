package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// units are the systemd units the packages install, from the root of
// the repository.
var units = []string{
	"packaging/systemd/ipvs_exporter.service",
	"packaging/systemd/ipvs_exporter.socket",
	"packaging/systemd/ipvsctl.service",
	"ipvsd/systemd/ipvsd.service",
}

// maxExposure is the most "systemd-analyze security" may rate a service
// (its scale of 0 to 10, times ten). The services need the host's
// network and netlink with CAP_NET_ADMIN, which costs about 1.5;
// everything else systemd can take away is taken.
const maxExposure = 20

// packagedExec is the directory the packages install the programs in.
const packagedExec = "/usr/bin/"

// TestUnits checks the units as systemd would load them, with
// systemd-analyze verify (their programs where the packages put them,
// which is here where the test built them, and the man pages their
// Documentation= names, generated), then rates each service's
// confinement with systemd-analyze security, and checks that each grants
// CAP_NET_ADMIN and nothing more.
func TestUnits(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	needTool(t, "man", "man-db")
	dir := t.TempDir()
	manDir := filepath.Join(dir, "man")
	makePages(t, manDir)
	execLine := regexp.MustCompile(`^(Exec[A-Za-z]*=[-+!@:]*)` + regexp.QuoteMeta(packagedExec) + `(\S+)`)
	var copies []string
	for _, u := range units {
		settings := map[string][]string{}
		var b strings.Builder
		f, err := os.Open(filepath.Join("..", u))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
				settings[k] = append(settings[k], v)
			}
			if m := execLine.FindStringSubmatch(l); m != nil {
				if _, err := os.Stat(filepath.Join(bin, m[2])); err != nil {
					t.Errorf("%s: %s runs %s, which is none of the programs", u, m[1], m[2])
				}
				l = m[1] + filepath.Join(bin, m[2]) + l[len(m[0]):]
			}
			b.WriteString(l + "\n")
		}
		f.Close()
		copy := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(copy, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, copy)
		if !strings.HasSuffix(u, ".service") {
			continue
		}
		for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
			if got := settings[k]; len(got) != 1 || got[0] != "CAP_NET_ADMIN" {
				t.Errorf("%s: %s=%q, want CAP_NET_ADMIN alone", u, k, got)
			}
		}
		if got := settings["DynamicUser"]; len(got) != 1 || got[0] != "yes" {
			t.Errorf("%s: DynamicUser=%q, want yes: no service runs as root", u, got)
		}
	}
	verify := exec.Command(analyze, append([]string{"verify"}, copies...)...)
	verify.Env = append(os.Environ(), "MANPATH="+manDir, "SYSTEMD_LOG_LEVEL=notice")
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, c := range copies {
		if !strings.HasSuffix(c, ".service") {
			continue
		}
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold="+strconv.Itoa(maxExposure), c).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: %v, over %d:\n%s", filepath.Base(c), err, maxExposure, exposed(string(out)))
		}
	}
}

// exposed keeps the lines of systemd-analyze security that count against
// a service, and its verdict.
func exposed(report string) string {
	var b strings.Builder
	for l := range strings.Lines(report) {
		if strings.HasPrefix(l, "✗") || strings.Contains(l, "Overall exposure") {
			b.WriteString(l)
		}
	}
	return b.String()
}
