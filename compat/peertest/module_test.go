package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree writes files (path: content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestModuleFiles(t *testing.T) {
	compat := tree(t, map[string]string{
		"go.mod": "module x\n", "handle.go": "", "handle_test.go": "", "peer_support_test.go": "", "ns/init.go": "",
	})
	peer := tree(t, map[string]string{
		"go.mod": "", "ipvs.go": "", "ipvs_test.go": "", "ns/ns_test.go": "", "testdata/rapid/T/x.fail": "",
		".github/workflows/test_test.go": "",
	})
	files, err := moduleFiles(compat, peer)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for n := range files {
		got = append(got, n)
	}
	slices.Sort(got)
	want := []string{"go.mod", "handle.go", "ipvs_test.go", "ns/init.go", "ns/ns_test.go", "peer_support_test.go", "testdata/rapid/T/x.fail"}
	if !slices.Equal(got, want) {
		t.Errorf("module files %v, want %v", got, want)
	}
	if files["go.mod"] != filepath.Join(compat, "go.mod") {
		t.Errorf("go.mod from %s, want the drop-in's", files["go.mod"])
	}
	// A peer test named as a file of the drop-in is an error, not a
	// silent choice.
	clash := tree(t, map[string]string{"peer_support_test.go": ""})
	if _, err := moduleFiles(compat, clash); err == nil {
		t.Error("a clash of names was accepted")
	}
}

func TestWriteProxy(t *testing.T) {
	compat := tree(t, map[string]string{"go.mod": "module github.com/ipvs-go/ipvs/compat/moby\n", "a.go": "package a\n"})
	peer := tree(t, map[string]string{"a_test.go": "package a\n"})
	p := peers["moby"]
	dir := t.TempDir()
	v1, err := writeProxy(dir, p, compat, peer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v1, "v0.0.0-peertest.h") {
		t.Errorf("version %q", v1)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, p.compat, "@v", v1+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	prefix := p.compat + "@" + v1 + "/"
	if want := []string{prefix + "a.go", prefix + "a_test.go", prefix + "go.mod"}; !slices.Equal(names, want) {
		t.Errorf("zip holds %v, want %v", names, want)
	}
	// Other content, another version: the module cache keeps each.
	if err := os.WriteFile(filepath.Join(peer, "a_test.go"), []byte("package a // changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v2, err := writeProxy(dir, p, compat, peer); err != nil || v2 == v1 {
		t.Errorf("changed content: version %q, %v; want one other than %q", v2, err, v1)
	}
}
