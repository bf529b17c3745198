package keepalived

import (
	"errors"
	"fmt"
	"strings"
)

// definition is a parameter, "$NAME=value". A multiline one ("$NAME= \"
// and lines ending in "\") holds its lines joined by "\n", and expands
// only where it makes a whole line.
type definition struct {
	name      string
	value     string
	multiline bool
}

// definitions are the parameters defined so far, with keepalived's
// predefined ones.
type definitions struct {
	m map[string]*definition
}

func newDefinitions() *definitions {
	d := &definitions{m: map[string]*definition{}}
	d.set("_HASH", "#")
	d.set("_BANG", "!")
	return d
}

func (d *definitions) set(name, value string) {
	d.m[name] = &definition{name: name, value: value}
}

// isNameStart and isNameByte are the bytes of a parameter's name: it
// starts with a letter or "_", and goes on with letters, digits and "_".
func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameByte(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }

// define reads "$NAME=value" and returns the definition it made, or nil
// if text is not a definition (it may use a parameter instead).
func (d *definitions) define(text string) *definition {
	if len(text) < 3 || !isNameStart(text[1]) {
		return nil
	}
	i := 2
	for i < len(text) && isNameByte(text[i]) {
		i++
	}
	if i == len(text) || text[i] != '=' {
		return nil
	}
	def := &definition{name: text[1:i]}
	value := strings.TrimLeft(text[i+1:], " \t")
	if v, ok := strings.CutSuffix(value, `\`); ok {
		def.multiline = true
		value = strings.TrimRight(v, " \t")
		if value != "" {
			value += "\n"
		}
	}
	def.value = value
	d.m[def.name] = def
	return def
}

// extend adds a line to a multiline definition, and reports whether
// more follow: a line that ends in "\" is not the last.
func (def *definition) extend(text string) bool {
	line, more := strings.CutSuffix(text, `\`)
	line = strings.TrimRight(line, " \t")
	if line != "" {
		def.value += line
		if more {
			def.value += "\n"
		}
	}
	if !more && def.value == "" {
		def.multiline = false
	}
	return more
}

// maxReplacements bounds the parameters replaced in one line, so that a
// parameter that uses itself ends in an error.
const maxReplacements = 10000

// errRandom is the error of ${_RANDOM}, which gives each run of
// keepalived other numbers: no import could say what the file means.
var errRandom = errors.New("${_RANDOM} makes a new number on each run of keepalived; write the value instead")

// substitute replaces the parameters text uses: "$NAME" followed by a
// blank, ",", ")" or the end, and "${NAME}". Replaced text is looked at
// again, so that a value may use parameters. A multiline parameter that
// ends the line gives its first line in place and its other lines in
// more, to be read after it. Undefined parameters stay as they are.
func (d *definitions) substitute(text, dir, configID string) (out string, more []string, changed bool, err error) {
	replaced := 0
	for i := 0; i < len(text)-1; {
		if text[i] != '$' {
			i++
			continue
		}
		def, length, err := d.reference(text[i+1:], dir, configID)
		if err != nil {
			return "", nil, false, err
		}
		if def == nil {
			i++
			continue
		}
		if replaced++; replaced > maxReplacements {
			return "", nil, false, fmt.Errorf("parameters are replaced more than %d times in one line: does one use itself?", maxReplacements)
		}
		changed = true
		value := def.value
		if def.multiline {
			first, rest, _ := strings.Cut(value, "\n")
			value = first
			if rest != "" {
				more = append(strings.Split(rest, "\n"), more...)
			}
		}
		text = text[:i] + value + text[i+1+length:]
		if len(text) > maxLineLength {
			return "", nil, false, fmt.Errorf("a line grows past %d bytes as its parameters are replaced", maxLineLength)
		}
		if strings.HasPrefix(strings.TrimLeft(def.value, " \t"), "~") {
			break
		}
	}
	return text, more, changed, nil
}

// reference reads a parameter's use at the start of s (just after its
// "$"), and returns the definition and how many bytes the use takes, or
// nil if s uses no defined parameter.
func (d *definitions) reference(s, dir, configID string) (*definition, int, error) {
	braces := strings.HasPrefix(s, "{")
	name := s
	if braces {
		name = s[1:]
	}
	if name == "" || !isNameStart(name[0]) {
		return nil, 0, nil
	}
	n := 1
	for n < len(name) && isNameByte(name[n]) {
		n++
	}
	length, end := n, len(name) == n
	if braces {
		params := n
		for params < len(name) && (name[params] == ' ' || (name[params] >= '0' && name[params] <= '9')) {
			params++
		}
		if params == len(name) || name[params] != '}' {
			return nil, 0, nil
		}
		if params != n {
			// Only ${_RANDOM MIN MAX} takes parameters.
			if name[:n] == "_RANDOM" {
				return nil, 0, errRandom
			}
			return nil, 0, nil
		}
		length, end = n+2, len(name) == n+1
	} else if !end && !strings.ContainsRune(" \t,)", rune(name[n])) {
		return nil, 0, nil
	}
	def := d.m[name[:n]]
	if def == nil {
		// The predefined parameters that keepalived computes, unless the
		// file defined its own.
		switch name[:n] {
		case "_PWD":
			def = &definition{value: dir}
		case "_INSTANCE":
			def = &definition{value: configID}
		case "_RANDOM":
			return nil, 0, errRandom
		default:
			return nil, 0, nil
		}
	}
	if def.multiline && !end {
		return nil, 0, nil
	}
	return def, length, nil
}
