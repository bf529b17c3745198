package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportKeepalived: "ipvsd import-keepalived" writes the imported
// configuration, which "ipvsd check" accepts, and lists on standard
// error what was not carried over; --strict makes those fail, and an
// input with errors exits 1, naming the line.
func TestImportKeepalived(t *testing.T) {
	conf := "../../keepalived/testdata/import/keepalived.conf"
	code, out, errs := ipvsd(t, "import-keepalived", "--config-id=x", conf)
	if code != 0 || !strings.Contains(out, "virtual_servers:\n") || !strings.Contains(errs, "keepalived.conf:52: warning: smtp_alert: not carried over") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	yaml := filepath.Join(t.TempDir(), "ipvsd.yaml")
	if code, _, errs := ipvsd(t, "import-keepalived", "-o", yaml, conf); code != 0 || !strings.Contains(errs, "11 virtual servers written to "+yaml) {
		t.Fatalf("import -o: %d %s", code, errs)
	}
	if code, out, errs := ipvsd(t, "check", yaml); code != 0 || !strings.Contains(out, "11 virtual servers") {
		t.Errorf("check of the import: %d %s %s", code, out, errs)
	}
	if code, _, errs := ipvsd(t, "import-keepalived", "--strict", conf); code != 1 || !strings.Contains(errs, "directives not carried over exactly (--strict)") {
		t.Errorf("--strict: %d %s", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(bad, []byte("virtual_server 10.0.0.1 80 {\n  lb_algo best\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = ipvsd(t, "import-keepalived", bad)
	if code != 1 || out != "" || !strings.Contains(errs, bad+`:2: error: lb_algo: "best" is not a scheduler`) {
		t.Errorf("bad input: %d %q %s", code, out, errs)
	}
}
