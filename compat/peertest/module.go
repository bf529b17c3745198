package main

import (
	"archive/tar"
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

// moduleFiles returns the files of the module zip, by their path in the
// module, from the drop-in's directory and the peer's: every file of the
// drop-in but its own tests, and the peer's tests and test data.
func moduleFiles(compatDir, peerDir string) (map[string]string, error) {
	files := map[string]string{}
	add := func(base string, keep func(rel string) bool) error {
		return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != base {
					return filepath.SkipDir
				}
				return err
			}
			rel, err := filepath.Rel(base, p)
			if err != nil || !d.Type().IsRegular() || !keep(filepath.ToSlash(rel)) {
				return err
			}
			rel = filepath.ToSlash(rel)
			if prev, dup := files[rel]; dup {
				return fmt.Errorf("%s is both %s and %s", rel, prev, p)
			}
			files[rel] = p
			return nil
		})
	}
	if err := add(compatDir, func(rel string) bool {
		return !strings.HasSuffix(rel, "_test.go") || path.Base(rel) == "peer_support_test.go"
	}); err != nil {
		return nil, err
	}
	err := add(peerDir, func(rel string) bool {
		return strings.HasSuffix(rel, "_test.go") || slices.Contains(strings.Split(path.Dir(rel), "/"), "testdata")
	})
	return files, err
}

// writeProxy writes the drop-in, with the peer's tests, as a module of
// the file-system proxy at dir, under a version made from the content's
// hash (the module cache keeps each version for good), and returns it.
func writeProxy(dir string, p peer, compatDir, peerDir string) (string, error) {
	if strings.ToLower(p.compat) != p.compat {
		return "", fmt.Errorf("%s needs escaping, which this proxy does not do", p.compat)
	}
	files, err := moduleFiles(compatDir, peerDir)
	if err != nil {
		return "", err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	contents := map[string][]byte{}
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(files[n])
		if err != nil {
			return "", err
		}
		contents[n] = b
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	mod, ok := contents["go.mod"]
	if !ok {
		return "", fmt.Errorf("%s has no go.mod", compatDir)
	}
	version := "v0.0.0-peertest.h" + hex.EncodeToString(h.Sum(nil))[:12]
	vdir := filepath.Join(dir, filepath.FromSlash(p.compat), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	zf, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		return "", err
	}
	zw := zip.NewWriter(zf)
	for _, n := range names {
		w, err := zw.Create(p.compat + "@" + version + "/" + n)
		if err == nil {
			_, err = w.Write(contents[n])
		}
		if err != nil {
			zf.Close()
			return "", err
		}
	}
	if err := zw.Close(); err != nil {
		zf.Close()
		return "", err
	}
	if err := zf.Close(); err != nil {
		return "", err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC()})
	for name, b := range map[string][]byte{"list": []byte(version + "\n"), version + ".info": info, version + ".mod": mod} {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return version, nil
}

// writeMigrated writes, at dir, a module that uses the peer's packages as
// a migrated program does, with the peer's own requirements (the versions
// its tests were written against, which the drop-in's may raise), and
// adds what the tests need besides.
func writeMigrated(dir string, p peer, version, root, peerDir string, g *goTool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := g.run("mod", "edit", "-json", filepath.Join(peerDir, "go.mod"))
	if err != nil {
		return err
	}
	var peerMod struct {
		Require []struct {
			Path, Version string
			Indirect      bool
		}
	}
	if err := jsonDecode(b, &peerMod); err != nil {
		return err
	}
	var gomod strings.Builder
	fmt.Fprintf(&gomod, "module peertest.invalid/migrated\n\ngo 1.26.0\n\nrequire %s %s\n\n", p.module, p.version)
	for _, r := range peerMod.Require {
		if !r.Indirect {
			fmt.Fprintf(&gomod, "require %s %s\n", r.Path, r.Version)
		}
	}
	fmt.Fprintf(&gomod, "\nreplace %s => %s %s\n\nreplace github.com/ipvs-go/ipvs => %s\n", p.module, p.compat, version, root)
	var pkgs []string
	var main strings.Builder
	main.WriteString("// Command migrated stands for a program that uses the peer, migrated by its go.mod.\npackage main\n\nimport (\n")
	for rel := range p.binaries {
		pkg := p.module
		if rel != "." {
			pkg += "/" + rel
		}
		pkgs = append(pkgs, pkg)
		fmt.Fprintf(&main, "\t_ %q\n", pkg)
	}
	main.WriteString(")\n\nfunc main() {}\n")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main.String()), 0o644); err != nil {
		return err
	}
	g.dir = dir
	if _, err := g.run(append([]string{"get", "-t"}, pkgs...)...); err != nil {
		return err
	}
	// The migrated program itself must build, as users' do.
	_, err = g.run("build", "-o", os.DevNull, ".")
	return err
}

// tarTestdata writes the directory dir, if it exists, to the tar file
// out as testdata/...; without it, it removes out.
func tarTestdata(out, dir string) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		err := os.Remove(out)
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(dir), p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
