package packaging

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRelease checks the artefacts of make release, in RELEASE_DIR (it
// skips without): each binary is a static ELF executable for its
// architecture; the one that runs here prints, for --version, the
// version and commit recorded in it; each package holds its program, its
// units and its page where the units and man look for them.
func TestRelease(t *testing.T) {
	dir := os.Getenv("RELEASE_DIR")
	if dir == "" {
		t.Skip("RELEASE_DIR unset: make release runs this")
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, p := range programs {
		for arch, machine := range machines {
			path := filepath.Join(dir, p.name+"-linux-"+arch)
			f, err := elf.Open(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if f.Machine != machine || f.Type != elf.ET_EXEC {
				t.Errorf("%s: %v %v, want an executable for %v", path, f.Type, f.Machine, machine)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("%s: dynamically linked (%v)", path, prog.Type)
				}
			}
			f.Close()
			bi, err := buildinfo.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if arch != runtime.GOARCH {
				continue
			}
			out, err := exec.Command(path, "--version").CombinedOutput()
			if err != nil {
				t.Errorf("%s --version: %v\n%s", path, err, out)
			}
			line := string(out)
			if !strings.HasPrefix(line, p.name+" "+bi.Main.Version+" ") {
				t.Errorf("%s --version: %q, want the version it records, %s", path, line, bi.Main.Version)
			}
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && !strings.Contains(line, "commit "+s.Value[:12]) {
					t.Errorf("%s --version: %q, want its commit %s", path, line, s.Value)
				}
			}
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != len(programs)*len(machines) {
		t.Errorf("packages %q, want one per program and architecture", debs)
	}
	for _, deb := range debs {
		out, err := exec.Command("dpkg-deb", "--contents", deb).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --contents %s: %v", deb, err)
		}
		var files []string
		for l := range strings.Lines(string(out)) {
			if f := strings.Fields(l); len(f) >= 6 && !strings.HasSuffix(f[5], "/") {
				files = append(files, strings.TrimPrefix(f[5], "."))
			}
		}
		p := packaged(filepath.Base(deb))
		want := []string{"/usr/bin/" + p.name, "/usr/share/man/man" + p.section + "/" + p.name + "." + p.section + ".gz"}
		for _, u := range units {
			if strings.HasPrefix(filepath.Base(u), p.name+".") {
				want = append(want, "/lib/systemd/system/"+filepath.Base(u))
			}
		}
		for _, w := range want {
			if !strings.Contains("\n"+strings.Join(files, "\n")+"\n", "\n"+w+"\n") {
				t.Errorf("%s has no %s: %q", deb, w, files)
			}
		}
	}
}

// packaged is the program a package file holds (Debian's names have no
// underscore).
func packaged(deb string) program {
	name, _, _ := strings.Cut(deb, "_")
	for _, p := range programs {
		if strings.ReplaceAll(p.name, "_", "-") == name {
			return p
		}
	}
	return program{name: deb}
}
