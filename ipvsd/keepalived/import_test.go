package keepalived

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/import")

// TestImportGolden imports testdata/import/keepalived.conf, which uses
// every directive the import carries over and some it does not, and
// compares the YAML and the diagnostics with their golden files.
func TestImportGolden(t *testing.T) {
	dir, err := filepath.Abs("testdata/import")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(filepath.Join(dir, "keepalived.conf"), Options{})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	// The golden files name the input relative to testdata/import.
	yaml := strings.ReplaceAll(string(res.YAML), dir+"/", "")
	diags := strings.ReplaceAll(res.Diagnostics.String(), dir+"/", "")
	for name, got := range map[string]string{"keepalived.yaml": yaml, "keepalived.diagnostics": diags} {
		golden := filepath.Join(dir, "..", "import."+strings.TrimPrefix(filepath.Ext(name), "."))
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(want), got); d != "" {
			t.Errorf("%s (-golden +got), go test -update to accept:\n%s", golden, d)
		}
	}
}
