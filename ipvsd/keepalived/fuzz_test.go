package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzImport reads a configuration that includes a second file, both
// made by the fuzzer, converts it and writes it out: nothing may panic
// or run without bound, and every diagnostic names a file that was read.
func FuzzImport(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/import/*.conf")
	more, _ := filepath.Glob("testdata/import/conf.d/*.conf")
	for _, name := range append(seeds, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "")
		f.Add("include /i.conf\n"+string(b), string(b))
	}
	f.Add("$A=~SEQ(N,1,3) x $N\n$A\n", "~LST({a,b},{1,2}) $a$b\n")
	f.Add("include /{i,k}.conf\n@x a\n$M= \\\n b \\\n c\n$M\n", "virtual_server group G {\n real_server 1.2.3.4 { TCP_CHECK }\n}\n")
	lines := maxLines
	maxLines = 20000
	f.Cleanup(func() { maxLines = lines })
	f.Fuzz(func(t *testing.T, main, included string) {
		c, _ := ParseFile("/k.conf", Options{FS: fsOf(map[string]string{"/k.conf": main, "/i.conf": included}), ConfigID: "x"})
		for _, d := range c.Diagnostics {
			if d.Pos.File != "" && d.Pos.File != "/k.conf" && d.Pos.File != "/i.conf" {
				t.Fatalf("a diagnostic names a file not read: %s", d)
			}
		}
		if c.Diagnostics.Errors() != nil {
			return
		}
		file, diags := Convert(c)
		for _, d := range diags {
			if !strings.HasPrefix(d.Pos.File, "/") {
				t.Fatalf("a conversion diagnostic has no file: %s", d)
			}
		}
		if _, err := marshal(file); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
