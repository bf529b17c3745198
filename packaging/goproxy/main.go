// Command goproxy serves this repository's modules through the module
// proxy protocol from a directory (GOPROXY=file://DIR), made from the
// repository's git history with golang.org/x/mod/zip, byte for byte the
// zips the public proxy would make from the same commits. The modules
// are every go.mod of the repository; their versions, those of its tags
// (v1.2.3 for the library, exporter/v1.2.3 for the module in exporter/),
// the pseudo-versions that the working tree's go.mod files require of
// them (their commits named by the pseudo-version's hash), and, with
// -pin REV, a pseudo-version of REV, which it prints. With -require it
// also makes the working tree's go.mod files require the repository's
// modules at that pseudo-version, or (-tagged V) at V where V is tagged:
// scripts/pin.sh and scripts/release.sh.
//
// The repository's nested modules require the library and each other by
// version; inside the repository go.work builds them from the working
// tree, but go mod tidy reads no go.work, and these versions are on no
// public proxy until the repository is published: make check hands tidy
// this directory first in GOPROXY.
//
//	goproxy -repo . -o build/goproxy [-pin HEAD | -tagged v1.2.3] [-require]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

func main() {
	repo := flag.String("repo", ".", "the repository's root")
	out := flag.String("o", "", "the proxy's directory (required)")
	pin := flag.String("pin", "", "also serve a pseudo-version of this commit, and print it")
	require := flag.Bool("require", false, "with -pin or -tagged: make every go.mod of the working tree require the repository's modules at that version")
	tagged := flag.String("tagged", "", "with -require: the version, for the modules that are tagged with it")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if (*require && *pin == "" && *tagged == "") || (*tagged != "" && (!*require || *pin != "")) {
		fmt.Fprintln(os.Stderr, "goproxy: -require goes with one of -pin and -tagged, and -tagged with -require")
		os.Exit(2)
	}
	if err := run(*repo, *out, *pin, *tagged, *require); err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
}

// repoModule is one module of the repository.
type repoModule struct {
	path string // module path
	dir  string // its directory from the repository's root, "" for the root
}

// served is one version of a module, made from a commit.
type served struct {
	mod repoModule
	ver string
	rev string
}

func run(repo, out, pin, tagged string, require bool) error {
	root, err := git(repo, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	mods, err := modules(root)
	if err != nil {
		return err
	}
	var todo []served
	tags, err := git(root, "tag", "--list")
	if err != nil {
		return err
	}
	for _, tag := range strings.Fields(tags) {
		for _, m := range mods {
			prefix := ""
			if m.dir != "" {
				prefix = m.dir + "/"
			}
			if v, ok := strings.CutPrefix(tag, prefix); ok && semver.IsValid(v) && !strings.Contains(v, "/") {
				todo = append(todo, served{m, v, "refs/tags/" + tag})
			}
		}
	}
	required, err := requiredPseudo(root, mods)
	if err != nil {
		return err
	}
	todo = append(todo, required...)
	if pin != "" {
		v, err := pseudoVersion(root, pin)
		if err != nil {
			return err
		}
		for _, m := range mods {
			todo = append(todo, served{m, v, pin})
		}
		fmt.Println(v)
		if require {
			if err := requireAll(root, mods, v, func(repoModule) bool { return true }); err != nil {
				return err
			}
		}
	}
	if tagged != "" {
		isTagged := func(m repoModule) bool {
			return slices.ContainsFunc(todo, func(s served) bool { return s.mod == m && s.ver == tagged })
		}
		if err := requireAll(root, mods, tagged, isTagged); err != nil {
			return err
		}
	}
	for _, s := range todo {
		if err := write(root, out, s); err != nil {
			return fmt.Errorf("%s@%s: %w", s.mod.path, s.ver, err)
		}
	}
	return nil
}

// modules lists the repository's modules from the go.mod files of its
// working tree.
func modules(root string) ([]repoModule, error) {
	files, err := git(root, "ls-files", "--cached", "--others", "--exclude-standard", "go.mod", "**/go.mod")
	if err != nil {
		return nil, err
	}
	var mods []repoModule
	for _, f := range strings.Fields(files) {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		p := modfile.ModulePath(data)
		if p == "" {
			return nil, fmt.Errorf("%s names no module", f)
		}
		dir := path.Dir(f)
		if dir == "." {
			dir = ""
		}
		mods = append(mods, repoModule{p, dir})
	}
	return mods, nil
}

// requiredPseudo returns the pseudo-versions of the repository's modules
// that its go.mod files require.
func requiredPseudo(root string, mods []repoModule) ([]served, error) {
	byPath := map[string]repoModule{}
	for _, m := range mods {
		byPath[m.path] = m
	}
	var todo []served
	for _, m := range mods {
		name := filepath.Join(root, m.dir, "go.mod")
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := modfile.ParseLax(name, data, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range f.Require {
			dep, ok := byPath[r.Mod.Path]
			if !ok || !module.IsPseudoVersion(r.Mod.Version) {
				continue
			}
			rev, err := module.PseudoVersionRev(r.Mod.Version)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(todo, func(s served) bool { return s.mod == dep && s.ver == r.Mod.Version }) {
				todo = append(todo, served{dep, r.Mod.Version, rev})
			}
		}
	}
	return todo, nil
}

// requireAll makes each module's go.mod require the repository's modules
// it requires, those that take, at version v.
func requireAll(root string, mods []repoModule, v string, take func(repoModule) bool) error {
	byPath := map[string]bool{}
	for _, m := range mods {
		byPath[m.path] = take(m)
	}
	for _, m := range mods {
		name := filepath.Join(root, m.dir, "go.mod")
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(name, data, nil)
		if err != nil {
			return err
		}
		changed := false
		for _, r := range f.Require {
			if byPath[r.Mod.Path] && r.Mod.Version != v {
				if err := f.AddRequire(r.Mod.Path, v); err != nil {
					return err
				}
				changed = true
			}
		}
		if !changed {
			continue
		}
		out, err := f.Format()
		if err != nil {
			return err
		}
		if err := os.WriteFile(name, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// pseudoVersion is the pseudo-version of rev, v0.0.0-TIME-HASH, as the go
// command writes one for a commit with no tag before it.
func pseudoVersion(root, rev string) (string, error) {
	out, err := git(root, "log", "-1", "--format=%H %ct", rev)
	if err != nil {
		return "", err
	}
	hash, unix, _ := strings.Cut(out, " ")
	var secs int64
	if _, err := fmt.Sscan(unix, &secs); err != nil {
		return "", err
	}
	return module.PseudoVersion("v0", "", time.Unix(secs, 0), hash[:12]), nil
}

// write puts one version in the proxy's directory: its go.mod, its
// info, its zip, and its line in the list.
func write(root, out string, s served) error {
	escaped, err := module.EscapePath(s.mod.path)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, escaped, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ev, err := module.EscapeVersion(s.ver)
	if err != nil {
		return err
	}
	base := filepath.Join(dir, ev)
	if _, err := os.Stat(base + ".zip"); err == nil {
		return nil // made before: a commit's content does not change
	}
	info, err := git(root, "log", "-1", "--format=%H %cI", s.rev)
	if err != nil {
		return err
	}
	_, when, _ := strings.Cut(info, " ")
	t, err := time.Parse(time.RFC3339, when)
	if err != nil {
		return err
	}
	gomod := "go.mod"
	if s.mod.dir != "" {
		gomod = s.mod.dir + "/go.mod"
	}
	mod, err := git(root, "show", s.rev+":"+gomod)
	if err != nil {
		return err
	}
	zdata, err := moduleZip(root, s)
	if err != nil {
		return err
	}
	j, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{s.ver, t.UTC()})
	if err != nil {
		return err
	}
	for ext, data := range map[string][]byte{".mod": []byte(mod + "\n"), ".info": j, ".zip": zdata} {
		if err := os.WriteFile(base+ext, data, 0o644); err != nil {
			return err
		}
	}
	list := filepath.Join(dir, "list")
	old, err := os.ReadFile(list)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(s.ver)+`$`).Match(old) && !module.IsPseudoVersion(s.ver) {
		return os.WriteFile(list, append(old, []byte(s.ver+"\n")...), 0o644)
	}
	return nil
}

// moduleZip makes the module's zip from the commit's files, unpacked by
// git archive (zip.CreateFromVCS wants a .git directory, which a git
// worktree has not); CreateFromDir leaves out the nested modules, as the
// public proxy does.
func moduleZip(root string, s served) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "goproxy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"archive", "--format=tar", s.rev}
	if s.mod.dir != "" {
		args = append(args, s.mod.dir)
	}
	archive := exec.Command("git", args...)
	archive.Dir = root
	untar := exec.Command("tar", "-x", "-C", tmp)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return nil, err
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		return nil, err
	}
	if err := archive.Run(); err != nil {
		return nil, fmt.Errorf("git archive %s: %w", s.rev, err)
	}
	if err := untar.Wait(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	var buf bytes.Buffer
	err = zip.CreateFromDir(&buf, module.Version{Path: s.mod.path, Version: s.ver}, filepath.Join(tmp, s.mod.dir))
	return buf.Bytes(), err
}

// git runs git in dir and returns its output, trimmed.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
