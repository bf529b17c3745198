package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

type fixedLister struct{}

func (fixedLister) NetNS() []string      { return []string{"blue", "green"} }
func (fixedLister) Interfaces() []string { return []string{"eth0", "lo"} }
func (fixedLister) Services(kind string) []string {
	if kind == "fwmark" {
		return []string{"7"}
	}
	return []string{"10.0.0.1:80", "[2001:db8::1]:443"}
}

func TestComplete(t *testing.T) {
	for _, tt := range []struct {
		line  string // the words, the last one being typed
		files bool
		want  string
	}{
		{"", false, ""}, // checked below: everything
		{"-A -s w", false, "wrr wlc"},
		{"-A --scheduler=l", false, "--scheduler=lc --scheduler=lblc --scheduler=lblcr"},
		{"--start-daemon ", false, "master backup"},
		{"-a -t 10", false, "10.0.0.1:80"},
		{"-Lnt [", false, "[2001:db8::1]:443"},
		{"-E -f ", false, "7"},
		{"-L --netns b", false, "blue"},
		{"--start-daemon master --mcast-interface e", false, "eth0"},
		{"-a -t 10.0.0.1:80 -r 10.1.0.1 -w ", false, ""},
		{"-Ln --sta", false, "--stats"},
		{"-L --ex", false, "--exact"},
		{"ap", false, "apply"},
		{"apply --d", false, "--dry-run --drain --drain-timeout"},
		{"apply -f ", true, ""},
		{"apply --filename=", true, ""},
		{"apply --own ", false, "all listed"},
		{"apply -f x --drain r", false, "remove"},
		{"completion ", false, "bash zsh"},
	} {
		words := strings.Split(tt.line, " ")
		c := cli.Complete(words, fixedLister{})
		if tt.line == "" {
			for _, w := range []string{"apply", "completion", "-A", "--add-service", "-L", "--list", "-R", "--netns"} {
				if !slices.Contains(c.Words, w) {
					t.Errorf("nothing typed: no %s in %v", w, c.Words)
				}
			}
			continue
		}
		if got := strings.Join(c.Words, " "); c.Files != tt.files || got != tt.want {
			t.Errorf("%q: files %v, %q; want %v, %q", tt.line, c.Files, got, tt.files, tt.want)
		}
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
}

// builtProgram builds ipvsctl once for the tests that run it.
func builtProgram(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the program")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "ipvsctl-test")
		if built.err == nil {
			var out []byte
			out, built.err = exec.Command("go", "build", "-o", filepath.Join(built.dir, "ipvsctl"), ".").CombinedOutput()
			if built.err != nil {
				built.err = &buildError{built.err, out}
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, "ipvsctl")
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + ": " + string(e.out) }

// bashComplete drives the bash completion function as bash does on TAB
// at the end of line, and returns what it offers.
func bashComplete(t *testing.T, bin, line string) []string {
	t.Helper()
	script := `source <("$BIN" completion bash) || exit 1
COMP_LINE=$LINE; COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<<"$COMP_LINE"; [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_ipvsctl
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "LINE="+line)
	cmd.Dir = t.TempDir()
	for _, f := range []string{"table.yaml", "table.json"} {
		if err := os.WriteFile(filepath.Join(cmd.Dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// TestBashCompletion loads the script ipvsctl prints into bash and calls
// its completion function as bash's programmable completion does.
func TestBashCompletion(t *testing.T) {
	bin := builtProgram(t)
	stub := filepath.Join(t.TempDir(), "ipvsctl")
	// A program whose table has services, for the words bash splits at
	// a colon.
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nprintf 'words\\n10.0.0.1:80\\n10.0.0.1:443\\n'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ line, want string }{
		{bin + " -A -t 10.0.0.1:80 -s w", "wrr wlc"},
		{bin + " -Ln --sta", "--stats"},
		{bin + " apply --own ", "all listed"},
		{bin + " apply -f ", "table.json table.yaml"},
		{bin + " apply -f table.y", "table.yaml"},
		{bin + " apply --filename=table.j", "table.json"},
		{bin + " --output=j", "json"},
		{bin + " completion z", "zsh"},
		{stub + " -a -t 10.0.0.1:", "80 443"},
	} {
		got := bashComplete(t, bin, tt.line)
		slices.Sort(got)
		want := strings.Fields(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", tt.line, got, want)
		}
	}
}

// TestZshCompletion loads the zsh script into a zsh without any
// configuration, after compinit: it must load and register itself.
func TestZshCompletion(t *testing.T) {
	bin := builtProgram(t)
	if _, err := exec.LookPath("zsh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zsh is not installed (.ci/run installs it)")
		}
		t.Skip("no zsh")
	}
	script := `autoload -U compinit && compinit -u -D || exit 1
source <("$BIN" completion zsh) || exit 1
(( $+functions[_ipvsctl] )) || { print "no _ipvsctl"; exit 1 }
print -r -- $_comps[ipvsctl]`
	cmd := exec.Command("zsh", "-f", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_ipvsctl" {
		t.Errorf("zsh: %v: %q", err, out)
	}
}
