package main

import (
	"fmt"
	"regexp"
	"strings"
)

// The text of a manual in --help: a heading alone on a line at the left
// margin, its body indented by four spaces. A body line whose term and
// description are parted by two or more spaces is a row of a table, and
// lines indented deeper go on with the line before; other lines make
// paragraphs. The synopsis, examples, and bodies that are data (JSON)
// are kept line for line.
const bodyIndent = "    "

// row parts a table's row at its last gap of two or more spaces.
var row = regexp.MustCompile(`^(\S.*\S)\s{2,}(\S(?:.*\S)?)$`)

// fromManual turns the manual that --help prints into a page.
func fromManual(help, name, th string) ([]byte, error) {
	var b strings.Builder
	b.WriteString(th)
	sections := 0
	var body []string
	var heading string
	flush := func() error {
		if heading == "" {
			return nil
		}
		if err := writeSection(&b, heading, body); err != nil {
			return fmt.Errorf("%s: section %s: %w", name, heading, err)
		}
		sections++
		return nil
	}
	for n, l := range strings.Split(strings.TrimRight(help, "\n"), "\n") {
		switch {
		case l == "":
			body = append(body, l)
		case !strings.HasPrefix(l, " "):
			if err := flush(); err != nil {
				return nil, err
			}
			heading, body = l, nil
		case heading == "":
			return nil, fmt.Errorf("%s --help: line %d is indented before any heading: %q", name, n+1, l)
		case !strings.HasPrefix(l, bodyIndent):
			return nil, fmt.Errorf("%s --help: line %d is indented less than its section: %q", name, n+1, l)
		default:
			body = append(body, strings.TrimPrefix(l, bodyIndent))
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if sections == 0 || !strings.Contains(b.String(), ".SH \"NAME\"") {
		return nil, fmt.Errorf("%s --help is not a manual: no NAME section", name)
	}
	return []byte(b.String()), nil
}

// writeSection writes one section's heading and body.
func writeSection(b *strings.Builder, heading string, body []string) error {
	for len(body) > 0 && body[len(body)-1] == "" {
		body = body[:len(body)-1]
	}
	fmt.Fprintf(b, ".SH %s\n", quote(heading))
	if heading == "SYNOPSIS" || heading == "EXAMPLES" || (len(body) > 0 && strings.ContainsAny(body[0][:1], "{[")) {
		b.WriteString(".nf\n")
		for _, l := range body {
			b.WriteString(escape(l) + "\n")
		}
		b.WriteString(".fi\n")
		return nil
	}
	// kind of the block being written: paragraph, table row, or none.
	const (
		none = iota
		paragraph
		table
	)
	kind := none
	for _, l := range body {
		switch {
		case l == "":
			kind = none
		case strings.HasPrefix(l, " "):
			if kind == none {
				return fmt.Errorf("%q goes on with no line before it", l)
			}
			b.WriteString(breakable(escape(strings.TrimSpace(l))) + "\n")
		case row.MatchString(l):
			m := row.FindStringSubmatch(l)
			term := strings.Join(strings.Fields(m[1]), " ")
			fmt.Fprintf(b, ".TP\n\\fB%s\\fR\n%s\n", escape(term), breakable(escape(m[2])))
			kind = table
		default:
			if kind != paragraph {
				b.WriteString(".PP\n")
			}
			b.WriteString(breakable(escape(l)) + "\n")
			kind = paragraph
		}
	}
	return nil
}
