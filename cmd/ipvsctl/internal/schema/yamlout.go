package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// jsonToYAML writes js, a document json.Marshal made, as block YAML
// with the same keys in the same order, in one pass over its bytes: the
// JSON encoding is the one schema, and YAML only spells it. A string is
// written plain where every YAML reader takes it back as that string,
// else in JSON's double quotes, which YAML reads alike.
func jsonToYAML(js []byte) ([]byte, error) {
	w := &yamlWriter{js: js}
	w.b.Grow(len(js) + len(js)/2)
	if err := w.value(0, posTop); err != nil {
		return nil, err
	}
	return w.b.Bytes(), nil
}

type yamlWriter struct {
	js []byte // what is left to read
	b  bytes.Buffer
}

// Where a value is written: alone, after "key:", or after "- ".
const (
	posTop = iota
	posKey
	posItem
)

// next returns the next token of the JSON text: a delimiter ({ } [ ]) or
// a scalar as written (a quoted string, a number, true, false, null); the
// separators between them are skipped.
func (w *yamlWriter) next() ([]byte, error) {
	for len(w.js) > 0 && (w.js[0] == ',' || w.js[0] == ':') {
		w.js = w.js[1:]
	}
	if len(w.js) == 0 {
		return nil, errors.New("schema: the JSON ends early")
	}
	n := 1
	switch w.js[0] {
	case '{', '}', '[', ']':
	case '"':
		for n < len(w.js) && w.js[n] != '"' {
			if w.js[n] == '\\' {
				n++
			}
			n++
		}
		n++
	default:
		for n < len(w.js) && !bytes.ContainsRune([]byte(",}]"), rune(w.js[n])) {
			n++
		}
	}
	n = min(n, len(w.js))
	tok := w.js[:n]
	w.js = w.js[n:]
	return tok, nil
}

// more reports whether the collection being read has another element.
func (w *yamlWriter) more() bool {
	js := bytes.TrimLeft(w.js, ",:")
	return len(js) > 0 && js[0] != '}' && js[0] != ']'
}

func (w *yamlWriter) indent(n int) {
	for range n {
		w.b.WriteByte(' ')
	}
}

// value writes the next value of the document; indent is the column of
// the keys of a mapping or the items of a list it holds.
func (w *yamlWriter) value(indent, pos int) error {
	tok, err := w.next()
	if err != nil {
		return err
	}
	d := tok[0]
	if d != '{' && d != '[' {
		if pos == posKey {
			w.b.WriteByte(' ')
		}
		if err := w.scalar(tok); err != nil {
			return err
		}
		w.b.WriteByte('\n')
		return nil
	}
	if !w.more() {
		if pos == posKey {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(map[byte]string{'{': "{}\n", '[': "[]\n"}[d])
	} else if pos == posKey {
		w.b.WriteByte('\n')
	}
	for first := true; w.more(); first = false {
		if !first || pos != posItem {
			w.indent(indent)
		}
		if d == '[' {
			w.b.WriteString("- ")
			if err := w.value(indent+2, posItem); err != nil {
				return err
			}
			continue
		}
		k, err := w.next()
		if err != nil {
			return err
		}
		// Keys are the schema's field names, which need no quotes.
		w.b.Write(bytes.Trim(k, `"`))
		w.b.WriteByte(':')
		if err := w.value(indent+2, posKey); err != nil {
			return err
		}
	}
	_, err = w.next() // the closing delimiter
	return err
}

// scalar writes a scalar token.
func (w *yamlWriter) scalar(tok []byte) error {
	if tok[0] != '"' {
		w.b.Write(tok) // a number, true, false or null: the same in YAML
		return nil
	}
	var s string
	if bytes.IndexByte(tok, '\\') < 0 {
		s = string(tok[1 : len(tok)-1])
	} else if err := json.Unmarshal(tok, &s); err != nil {
		return err
	}
	if plainString(s) {
		w.b.WriteString(s)
	} else {
		w.b.Write(tok)
	}
	return nil
}

// yamlWords are YAML 1.1's and 1.2's booleans and nulls.
var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true}

// plainString reports whether s may be written without quotes: its
// characters need none (no indicator first, no blank, so no ": " or
// " #", and no colon last, which would start a mapping), and no YAML 1.1
// or 1.2 reader takes it for something other than a string.
func plainString(s string) bool {
	if s == "" || !isAlnum(s[0]) || s[len(s)-1] == ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("._:/+-", rune(c)) {
			return false
		}
	}
	if yamlWords[strings.ToLower(s)] || sexagesimal(s) || date(s) {
		return false
	}
	t := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseFloat(t, 64); err == nil {
		return false
	}
	_, err := strconv.ParseInt(t, 0, 64)
	return err != nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// sexagesimal reports whether s is a YAML 1.1 base-60 number, such as
// 190:20:30 (or 1:2:3:4:5:6:7:8, an IPv6 address): digits, then groups
// of a colon and one or two digits of which the first is 0 to 5, then
// maybe a fraction.
func sexagesimal(s string) bool {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '_') {
		i++
	}
	if i == 0 || !isDigit(s[0]) {
		return false
	}
	groups := 0
	for i < len(s) && s[i] == ':' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i - 1; n == 0 || n > 2 || n == 2 && s[i+1] > '5' {
			return false
		}
		i, groups = j, groups+1
	}
	if groups == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && (isDigit(s[i]) || s[i] == '_'); i++ {
		}
	}
	return i == len(s)
}

// date reports whether s begins as a YAML 1.1 timestamp: 2001-12-14.
func date(s string) bool {
	// digits returns where the run of min to max digits at i ends, or -1.
	digits := func(i, min, max int) int {
		n := 0
		for i+n < len(s) && n < max && isDigit(s[i+n]) {
			n++
		}
		if n < min {
			return -1
		}
		return i + n
	}
	i := digits(0, 4, 4)
	if i < 0 || i >= len(s) || s[i] != '-' {
		return false
	}
	i = digits(i+1, 1, 2)
	if i < 0 || i >= len(s) || s[i] != '-' {
		return false
	}
	return digits(i+1, 1, 2) >= 0
}
