package cli

import "strings"

// argKind is whether an option takes an argument.
type argKind uint8

const (
	argNone argKind = iota
	argRequired
	// argOptional takes the next word unless it starts with '-', as popt's
	// POPT_ARGFLAG_OPTIONAL does (ipvsadm's -p [timeout]).
	argOptional
)

// spec is one entry of the option table.
type spec struct {
	long  string
	short byte
	arg   argKind
	tag   tag
}

// token is one option as the scanner found it.
type token struct {
	spec   *spec
	value  string
	hasArg bool
	text   string // the option as written, for messages
}

// scanError is a popt error: the option as written and popt's reason.
type scanError struct {
	option string
	reason string
}

func (e *scanError) Error() string { return e.option + ": " + e.reason }

// scanner walks argv as popt does: options and plain words may be mixed,
// short options may be bundled (-Ln), a short option's argument may be glued
// to it (-w5), a long option's may follow '=' (--weight=5), and "--" ends the
// options.
type scanner struct {
	table    *optionTable
	argv     []string
	next     int
	bundle   string // rest of a bundle of short options
	bundleOf string
	rest     []string // plain words
	done     bool     // after "--"
	// noOptional makes argOptional options take no argument at all: the
	// listing commands use -p for "pretty".
	noOptional bool
	// simple: argv is simple words alone (see simpleWords).
	simple bool
}

// simpleWords reports whether every word of argv is a short option of
// t alone ("-w") that takes no argument or one, followed by it: what the
// lines of a save are made of, read without the general cases.
func simpleWords(t *optionTable, argv []string) bool {
	for i := 0; i < len(argv); i++ {
		w := argv[i]
		if len(w) != 2 || w[0] != '-' || w[1] == '-' {
			return false
		}
		sp := t.short[w[1]]
		switch {
		case sp == nil:
			return false
		case sp.arg == argRequired:
			if i++; i == len(argv) {
				return false
			}
		case sp.arg != argNone:
			return false
		}
	}
	return true
}

// shortText spells each short option, so that a token costs no
// allocation.
var shortText = func() (t [256]string) {
	for c := range t {
		t[c] = "-" + string(rune(c))
	}
	return t
}()

// optionTable indexes a table of options by their long and short names.
type optionTable struct {
	specs []spec
	short [256]*spec
	long  map[string]*spec
}

func newOptionTable(specs []spec) *optionTable {
	t := &optionTable{specs: specs, long: make(map[string]*spec, len(specs))}
	for i := range specs {
		sp := &specs[i]
		if _, twice := t.long[sp.long]; !twice {
			t.long[sp.long] = sp
		}
		if sp.short != 0 && t.short[sp.short] == nil {
			t.short[sp.short] = sp
		}
	}
	return t
}

func (s *scanner) find(long string, short byte) *spec {
	if long != "" {
		return s.table.long[long]
	}
	return s.table.short[short]
}

// nextToken returns the next option; ok is false at the end.
func (s *scanner) nextToken() (t token, ok bool, err error) {
	if s.simple {
		// As below, for the words simpleWords allows.
		if s.next == len(s.argv) {
			return token{}, false, nil
		}
		c := s.argv[s.next][1]
		s.next++
		t = token{spec: s.table.short[c], text: shortText[c]}
		if t.spec.arg == argRequired {
			t.value, t.hasArg = s.argv[s.next], true
			s.next++
		}
		return t, true, nil
	}
	if s.bundle != "" {
		t, err = s.short()
		return t, err == nil, err
	}
	for s.next < len(s.argv) {
		w := s.argv[s.next]
		s.next++
		switch {
		case s.done || w == "-" || !strings.HasPrefix(w, "-"):
			s.rest = append(s.rest, w)
		case w == "--":
			s.done = true
		case strings.HasPrefix(w, "--"):
			t, err = s.long(w)
			return t, err == nil, err
		default:
			s.bundle, s.bundleOf = w[1:], w
			t, err = s.short()
			return t, err == nil, err
		}
	}
	return token{}, false, nil
}

func (s *scanner) long(w string) (token, error) {
	name, val, hasVal := strings.Cut(w[2:], "=")
	sp := s.find(name, 0)
	if sp == nil {
		return token{}, &scanError{w, "unknown option"}
	}
	t := token{spec: sp, text: w}
	if sp.arg == argNone {
		if hasVal {
			return token{}, &scanError{w, "option does not take an argument"}
		}
		return t, nil
	}
	if hasVal {
		t.value, t.hasArg = val, true
		return t, nil
	}
	return s.argument(t)
}

func (s *scanner) short() (token, error) {
	c := s.bundle[0]
	s.bundle = s.bundle[1:]
	sp := s.find("", c)
	if sp == nil {
		s.bundle = ""
		return token{}, &scanError{s.bundleOf, "unknown option"}
	}
	t := token{spec: sp, text: shortText[c]}
	if sp.arg == argNone || (sp.arg == argOptional && s.noOptional) {
		return t, nil
	}
	if s.bundle != "" {
		t.value, t.hasArg = s.bundle, true
		s.bundle = ""
		return t, nil
	}
	return s.argument(t)
}

// argument takes the next word as the argument of t.
func (s *scanner) argument(t token) (token, error) {
	if t.spec.arg == argOptional && s.noOptional {
		return t, nil
	}
	if s.next >= len(s.argv) {
		if t.spec.arg == argOptional {
			return t, nil
		}
		return token{}, &scanError{t.text, "missing argument"}
	}
	w := s.argv[s.next]
	if t.spec.arg == argOptional && strings.HasPrefix(w, "-") {
		return t, nil
	}
	s.next++
	t.value, t.hasArg = w, true
	return t, nil
}
