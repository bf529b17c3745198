package keepalived

import "strings"

// isSpace is a byte that separates words.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r' || c == '\v'
}

// skipSpace returns the index of the first byte of s from i that is not
// a blank, or len(s).
func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// words splits a statement into words as keepalived does for keywords
// and their values: at blanks, with a double-quoted string one word
// without its quotes. There are no escapes, and single quotes are
// ordinary. ok is false for a quote left open; the words before it are
// returned.
func words(s string) (out []string, ok bool) {
	for i := 0; ; {
		if i = skipSpace(s, i); i == len(s) {
			return out, true
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return out, false
			}
			out = append(out, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '"' {
			i++
		}
		out = append(out, s[start:i])
	}
}

// shellWords splits a string as keepalived splits a script's command
// line: at blanks, with single- or double-quoted parts kept whole (the
// quotes removed), and backslash escapes as C writes them (\n, \t,
// \x41, \101, \cC, and \ before any other character for that
// character). ok is false for a quote left open or a trailing
// backslash.
func shellWords(s string) (out []string, ok bool) {
	for i := 0; ; {
		if i = skipSpace(s, i); i == len(s) {
			return out, true
		}
		var w []byte
		var quote byte
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) {
					return out, false
				}
				var b byte
				b, i = unescape(s, i+1)
				w = append(w, b)
				continue
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
				w = append(w, c)
			case c == '"' || c == '\'':
				quote = c
			case isSpace(c):
				goto word
			default:
				w = append(w, c)
			}
			i++
		}
	word:
		if quote != 0 {
			return out, false
		}
		out = append(out, string(w))
	}
}

// unescape reads the escape whose first byte (after the backslash) is
// s[i], and returns its byte and the index after it.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var v byte
		i++
		for i < len(s) && isHex(s[i]) {
			v = v<<4 | hexValue(s[i])
			i++
		}
		return v, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
			v = v<<3 + s[i] - '0'
			i++
		}
		return v, i
	}
	if e, ok := escapes[c]; ok {
		return e, i + 1
	}
	return c, i + 1
}

var escapes = map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
