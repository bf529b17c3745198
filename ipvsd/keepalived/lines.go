package keepalived

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"strings"
)

// statement is a logical line: a keyword and its words, "{" or "}",
// with where it came from. keepalived splits a line at each brace, so
// "real_server 10.0.0.1 80 { weight 2 }" is four statements.
type statement struct {
	pos  Pos
	text string
}

// lexer turns files into statements the way keepalived's read_line
// does: comments go, "@id" lines are kept or dropped by the config id,
// "$NAME=value" defines a parameter that later lines use, "~SEQ" and
// "~LST" repeat a line, and include reads other files in place.
type lexer struct {
	files    *files
	rep      *report
	configID string
	defs     *definitions
	out      []statement
	stack    []string // the files being read, outermost first
	full     bool     // maxLines was reached
	work     int      // lines read and made, bounded by maxLines
	// pending is a multiline definition still taking lines.
	pending *definition
}

// file reads the configuration file name, from the include at pos.
func (l *lexer) file(name string, from Pos) {
	for _, open := range l.stack {
		if open == name {
			l.rep.errorf(from, "include", "%s includes itself (through %s)", name, strings.Join(l.stack, ", "))
			return
		}
	}
	if len(l.stack) >= maxIncludeDepth {
		l.rep.errorf(from, "include", "includes nest deeper than %d files", maxIncludeDepth)
		return
	}
	data, err := l.files.readFile(name)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			l.rep.errorf(from, "", "%v", err)
		} else {
			l.rep.errorf(from, "", "cannot read %s: %v", name, unwrapPath(err))
		}
		return
	}
	l.stack = append(l.stack, name)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	dir := path.Dir(name)
	pos := Pos{File: name}
	for len(data) > 0 && !l.full {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		pos.Line++
		l.physical(pos, dir, strings.TrimRight(string(line), "\r"))
	}
	l.pending = nil
}

// unwrapPath drops the path fs.ReadFile puts in its error, which names
// the file relative to the root and is said already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// physical takes one line of a file.
func (l *lexer) physical(pos Pos, dir, raw string) {
	if raw == "" {
		// Only an empty line ends a multiline definition early: one
		// of blanks or a comment is skipped inside it.
		l.pending = nil
		return
	}
	text, openQuote := decomment(raw)
	if text == "" {
		return
	}
	if l.pending != nil {
		if !l.pending.extend(text) {
			l.pending = nil
		}
		return
	}
	if openQuote {
		l.rep.errorf(pos, "", "a quote (\") is not closed on its line")
		return
	}
	l.logical(pos, dir, text, 0)
}

// maxExpansionDepth bounds how deep definitions, ~SEQ and ~LST expand
// into one another.
const maxExpansionDepth = 64

// logical takes a line after its comment is gone: a conditional, a
// definition, a repetition, an include, or statements. A multiline
// parameter it uses adds lines, read after it.
func (l *lexer) logical(pos Pos, dir, text string, depth int) {
	if l.full || !l.spend(pos) {
		return
	}
	if depth > maxExpansionDepth {
		l.rep.errorf(pos, "", "definitions expand into one another more than %d deep", maxExpansionDepth)
		return
	}
	for _, r := range l.line(pos, dir, text, depth) {
		if r != "" {
			l.logical(pos, dir, r, depth+1)
		}
	}
}

// line reads one line, and returns the lines of multiline parameters it
// used, still to be read.
func (l *lexer) line(pos Pos, dir, text string, depth int) (rest []string) {
	for range maxExpansionDepth {
		if strings.HasPrefix(text, "@") {
			var keep bool
			if text, keep = l.conditional(text); !keep {
				return rest
			}
		}
		if strings.HasPrefix(text, "$") {
			if d := l.defs.define(text); d != nil {
				if d.multiline {
					l.pending = d
				}
				return rest
			}
		}
		if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
			l.repeat(pos, dir, text, depth)
			return rest
		}
		if strings.HasPrefix(text, "~") || !strings.Contains(text, "$") {
			break
		}
		replaced, more, changed, err := l.defs.substitute(text, dir, l.configID)
		if err != nil {
			l.rep.errorf(pos, "", "%v", err)
			return rest
		}
		if !changed {
			break
		}
		text, _ = decomment(replaced)
		rest = append(more, rest...)
		if !strings.HasPrefix(text, "@") && !strings.Contains(text, "$") {
			break
		}
	}
	if pattern, ok := includePattern(text); ok {
		l.include(pos, dir, pattern)
	} else if text != "" {
		l.statements(pos, text)
	}
	return rest
}

// spend counts a line read or made, and reports whether the
// configuration is still within maxLines of them: definitions and
// repetitions that make nothing but more definitions count too.
func (l *lexer) spend(pos Pos) bool {
	if l.work++; l.work > maxLines {
		l.rep.errorf(pos, "", "the configuration makes more than %d lines, with its definitions and repetitions", maxLines)
		l.full = true
		return false
	}
	return true
}

// conditional applies an "@id" or "@^id" prefix: the rest of the line is
// kept when id is (or, with ^, is not) the config id.
func (l *lexer) conditional(text string) (string, bool) {
	negate := strings.HasPrefix(text, "@^")
	id := strings.TrimPrefix(strings.TrimPrefix(text, "@^"), "@")
	end := strings.IndexAny(id, " \t")
	if end < 0 {
		return "", false
	}
	rest := strings.TrimLeft(id[end:], " \t")
	if (id[:end] == l.configID) == negate {
		return "", false
	}
	return rest, true
}

// includePattern reports whether text is an include, and its pattern:
// "include", or one of its variants includer, includem, includew,
// includeb and includea, which differ only in which failures keepalived
// calls errors.
func includePattern(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "include")
	if !ok || rest == "" {
		return "", false
	}
	if strings.ContainsRune("rmwba", rune(rest[0])) && len(rest) > 1 {
		rest = rest[1:]
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// include reads the files pattern names, relative to dir, in order.
func (l *lexer) include(pos Pos, dir, pattern string) {
	if pattern == "" {
		l.rep.errorf(pos, "include", "names no file")
		return
	}
	matches, dirs, err := l.files.glob(abs(dir, pattern))
	if err != nil {
		l.rep.errorf(pos, "include", "%q: %v", pattern, err)
		return
	}
	for _, d := range dirs {
		l.rep.warnf(pos, "include", "%s is a directory; keepalived skips it, and so does the import", d)
	}
	if len(matches) == 0 {
		l.rep.warnf(pos, "include", "%q matches no file here: nothing from it is imported", pattern)
	}
	for _, m := range matches {
		l.file(m, pos)
	}
}

// statements splits text at its braces (those outside double quotes)
// into statements.
func (l *lexer) statements(pos Pos, text string) {
	for text != "" {
		cut := braceAt(text)
		var s string
		switch {
		case cut < 0:
			s, text = text, ""
		case cut == 0:
			s, text = text[:1], strings.TrimLeft(text[1:], " \t")
		default:
			s, text = text[:cut], text[cut:]
		}
		s = strings.TrimRight(s, " \t")
		if s == "" {
			continue
		}
		if len(l.out) >= maxLines {
			l.rep.errorf(pos, "", "the configuration makes more than %d lines", maxLines)
			l.full = true
			return
		}
		l.out = append(l.out, statement{pos: pos, text: s})
	}
}

// braceAt returns the index of the first brace of text outside double
// quotes, or -1.
func braceAt(text string) int {
	if text[0] == '{' || text[0] == '}' {
		return 0
	}
	quoted := false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '"':
			quoted = !quoted
		case '{', '}':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// decomment removes a comment ('#' or '!' outside double quotes, unless
// escaped by a backslash) and the blanks around the text, as keepalived
// does. A line that ends in a backslash keeps it: it continues a
// multiline definition. openQuote reports a double quote left open.
func decomment(s string) (text string, openQuote bool) {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quoted, comment, cont := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				continue
			}
			next := s[i+1]
			i++
			if comment {
				continue
			}
			if !quoted && (next == '#' || next == '!') {
				b.WriteByte(next)
			} else {
				b.WriteByte(c)
				b.WriteByte(next)
			}
			continue
		case comment:
			continue
		case c == '"':
			quoted = !quoted
		case (c == '#' || c == '!') && !quoted:
			comment = true
			continue
		}
		b.WriteByte(c)
	}
	text = strings.TrimRight(b.String(), " \t")
	if cont {
		text += `\`
	}
	return text, quoted
}
