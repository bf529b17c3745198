package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ipvsd runs a command line and returns its exit status and output.
func ipvsd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCheck: "ipvsd check" says what a valid file holds, and lists the
// errors of another, each with its line, exiting 1.
func TestCheck(t *testing.T) {
	code, out, errs := ipvsd(t, "check", "../../ipvsd.example.yaml")
	if code != 0 || !strings.Contains(out, "2 virtual servers, 5 real servers, 5 checks") || errs != "" {
		t.Errorf("valid file: %d %q %q", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    lvs_sched: nope\n    weight: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = ipvsd(t, "check", bad)
	want := bad + `:4:5: virtual_servers[0].lvs_sched: "nope" is not a scheduler`
	if code != 1 || out != "" || !strings.Contains(errs, want) || !strings.Contains(errs, ":5:5: virtual_servers[0].weight: unknown field") {
		t.Errorf("invalid file: %d %q %q", code, out, errs)
	}
}

// TestUsage: --version and --help answer and exit 0; a wrong command
// line exits 2.
func TestUsage(t *testing.T) {
	if code, out, _ := ipvsd(t, "--version"); code != 0 || !strings.HasPrefix(out, "ipvsd ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := ipvsd(t, "--help"); code != 0 || !strings.Contains(out, "plan") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, errs := ipvsd(t, "check"); code != 2 || !strings.Contains(errs, "required argument 'file'") {
		t.Errorf("no file: %d %q", code, errs)
	}
}
