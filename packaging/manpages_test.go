package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// makePages writes each program's page under dir/manN, as man finds
// them with MANPATH=dir, and returns their paths by program.
func makePages(t *testing.T, dir string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	for _, p := range programs {
		sub := filepath.Join(dir, "man"+p.section)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		page := filepath.Join(sub, p.name+"."+p.section)
		out, err := exec.Command(filepath.Join(bin, "manpage"), "-binary", filepath.Join(bin, p.name),
			"-section", p.section, "-o", page).CombinedOutput()
		if err != nil {
			t.Fatalf("manpage %s: %v\n%s", p.name, err, out)
		}
		pages[p.name] = page
	}
	return pages
}

var longFlag = regexp.MustCompile(`--[a-z][a-z0-9.-]*[a-z0-9]`)

// TestManPages renders each page with man, as a reader would see it on an
// 80-column terminal, and checks that groff has nothing to warn of, that
// whatis can read its NAME, and that every flag the program's help names
// is on the page.
func TestManPages(t *testing.T) {
	man := needTool(t, "man", "man-db")
	lexgrog := needTool(t, "lexgrog", "man-db")
	pages := makePages(t, t.TempDir())
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(man, "--warnings", "-l", pages[p.name])
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "MANPAGER=cat", "PAGER=cat")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Fatalf("man -l %s: %v\n%s", p.name, err, stderr.String())
			}
			// man writes bold by overstriking when its output is not a
			// terminal; col -b's job, done here.
			text := regexp.MustCompile(".\b").ReplaceAllString(stdout.String(), "")
			text = strings.ReplaceAll(text, "\u2010", "-")
			if !strings.HasPrefix(text, strings.ToUpper(p.name)+"("+p.section+")") {
				t.Errorf("page starts %q", strings.SplitN(text, "\n", 2)[0])
			}
			whatis, err := exec.Command(lexgrog, pages[p.name]).Output()
			if err != nil || !strings.Contains(string(whatis), `"`+p.name+` - `) {
				t.Errorf("lexgrog: %v %s", err, whatis)
			}
			help := helpText(t, p.name)
			flags := map[string]bool{}
			for _, f := range longFlag.FindAllString(help, -1) {
				flags[f] = true
			}
			if len(flags) < 10 {
				t.Fatalf("only %d flags in the help: %q", len(flags), help)
			}
			// Rendering joins lines, and may break one after a hyphen.
			flat := strings.Join(strings.Fields(text), " ")
			for f := range flags {
				if !strings.Contains(flat, f) {
					t.Errorf("%s is in the help but not on the page", f)
				}
			}
		})
	}
}

// helpText is everything a program's help says: kingpin's programs
// print their commands' flags with --help-long.
func helpText(t *testing.T, name string) string {
	out, err := exec.Command(filepath.Join(bin, name), "--help-long").CombinedOutput()
	if err != nil {
		out, err = exec.Command(filepath.Join(bin, name), "--help").CombinedOutput()
	}
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", name, err, out)
	}
	return string(out)
}
