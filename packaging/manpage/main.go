// Command manpage writes the manual page of one of this repository's
// programs from the text its own --help prints, so that the page cannot
// say other than the program: ipvsctl's --help is a manual in the form
// of a man page (headed sections, option tables, paragraphs), which it
// turns into roff; ipvs_exporter and ipvsd take their flags with kingpin,
// whose --help-man renders the same flag model as --help, and it gives
// that page a proper title line and a NAME that whatis can read. The
// page's date and version are the binary's own (its commit's time and
// module version), so that building twice gives the same page.
//
//	manpage -binary build/ipvsctl -section 8 -o build/man/ipvsctl.8
package main

import (
	"bytes"
	"debug/buildinfo"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	binary := flag.String("binary", "", "the program to document (required)")
	section := flag.String("section", "1", "the manual section")
	out := flag.String("o", "", "the file to write (default: standard output)")
	flag.Parse()
	if *binary == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	page, err := generate(*binary, *section)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manpage:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(page)
	} else {
		err = os.WriteFile(*out, page, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "manpage:", err)
		os.Exit(1)
	}
}

// generate runs binary for its help and returns its page.
func generate(binary, section string) ([]byte, error) {
	name := filepath.Base(binary)
	th, err := titleLine(binary, name, section)
	if err != nil {
		return nil, err
	}
	if man, err := exec.Command(binary, "--help-man").Output(); err == nil && bytes.HasPrefix(man, []byte(".TH ")) {
		return fromKingpin(man, th)
	}
	help, err := exec.Command(binary, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --help: %w", binary, err)
	}
	return fromManual(string(help), name, th)
}

// titleLine is the page's .TH line: name, section, the date of the
// commit the binary was built from, and its module version.
func titleLine(binary, name, section string) (string, error) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("%s: %w", binary, err)
	}
	date := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" {
			date, _, _ = strings.Cut(s.Value, "T")
		}
	}
	// Options and addresses read better unhyphenated, and lists of
	// values unstretched.
	return fmt.Sprintf(".TH %s %s %s %s %s\n.nh\n.ad l\n", quote(strings.ToUpper(name)), section, quote(date),
		quote(name+" "+bi.Main.Version), quote("ipvs-go")), nil
}

// quote makes s one argument of a roff request.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `""`) + `"`
}

// escape makes s literal text in roff: backslashes and hyphens (which
// roff would print as typographic hyphens, spoiling options copied from
// the page) escaped, and a line that would start with a control
// character protected.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// breakable lets roff break a line of text after its commas, bars and
// slashes, where a list or an address written without spaces would be
// wider than a terminal.
func breakable(text string) string {
	return strings.NewReplacer(",", `,\:`, "|", `|\:`, "/", `/\:`).Replace(text)
}

// fromKingpin escapes the hyphens of kingpin's page, which roff would
// print as typographic ones and break lines at, inside options; it
// replaces kingpin's title line, whose unquoted version
// spills into the other fields (and over lines, where the version is
// prometheus/common's several), and completes its NAME section, which
// lacks the "name \- summary" that whatis and apropos read, with the
// first line of its DESCRIPTION.
func fromKingpin(man []byte, th string) ([]byte, error) {
	lines := strings.Split(string(man), "\n")
	var summary string
	for i, l := range lines {
		if l == `.SH "DESCRIPTION"` && i+1 < len(lines) {
			summary = lines[i+1]
		}
	}
	if summary == "" {
		return nil, fmt.Errorf("kingpin's page has no DESCRIPTION")
	}
	var b strings.Builder
	b.WriteString(th)
	first := 1
	for first < len(lines) && !strings.HasPrefix(lines[first], ".SH ") {
		first++
	}
	for i := first; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, ".") {
			l = breakable(strings.ReplaceAll(strings.ReplaceAll(l, `\-`, "-"), "-", `\-`))
		}
		b.WriteString(l)
		if l == `.SH "NAME"` && i+1 < len(lines) {
			b.WriteString("\n" + lines[i+1] + ` \- ` + strings.TrimSuffix(summary, "."))
			i++
		}
		if i < len(lines)-1 {
			b.WriteString("\n")
		}
	}
	return []byte(b.String()), nil
}
