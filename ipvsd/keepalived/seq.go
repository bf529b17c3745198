package keepalived

import (
	"fmt"
	"strconv"
	"strings"
)

// repeat expands a line that starts with ~SEQ, ~SEQx or ~LST: the rest
// of the line is read once for each value of the variable, which is
// defined as a parameter meanwhile.
func (l *lexer) repeat(pos Pos, dir, text string, depth int) {
	var r repetition
	var err error
	if strings.HasPrefix(text, "~SEQ") {
		r, err = l.parseSeq(text, dir)
	} else {
		r, err = parseLst(text)
	}
	if err != nil {
		l.rep.errorf(pos, text[:4], "%v", err)
		return
	}
	for i := 0; r.more(i); i++ {
		for j, v := range r.vars {
			l.defs.set(v, r.value(i, j))
		}
		l.logical(pos, dir, r.text, depth+1)
		if l.full {
			return
		}
	}
}

// repetition is a parsed ~SEQ or ~LST: its variables, its values, and
// the text to repeat.
type repetition struct {
	vars []string
	text string
	// A ~SEQ counts from start by step to end.
	seq               bool
	hex               bool
	start, step, last int64
	// A ~LST lists sets of values, one for each variable.
	sets [][]string
}

func (r *repetition) more(i int) bool {
	if !r.seq {
		return i < len(r.sets)
	}
	v := r.start + int64(i)*r.step
	if r.step > 0 {
		return v <= r.last && v >= r.start
	}
	return v >= r.last && v <= r.start
}

func (r *repetition) value(i, j int) string {
	if !r.seq {
		return r.sets[i][j]
	}
	v := r.start + int64(i)*r.step
	if r.hex {
		return strconv.FormatInt(v, 16)
	}
	return strconv.FormatInt(v, 10)
}

// parseSeq reads "~SEQ(var, [start,] [step,] end) text"; ~SEQx writes
// the values in hex. The numbers may use parameters, and are read as C's
// strtol reads them (0x for hex, a leading 0 for octal).
func (l *lexer) parseSeq(text, dir string) (repetition, error) {
	r := repetition{seq: true}
	p := text[4:]
	if strings.HasPrefix(p, "x") {
		r.hex, p = true, p[1:]
	}
	p = strings.TrimLeft(p, " \t")
	args, rest, ok := parens(p)
	if !ok {
		return r, fmt.Errorf("want ~SEQ(VAR, START, STEP, END) TEXT, with its parentheses")
	}
	r.text = strings.TrimLeft(rest, " \t")
	v, nums, _ := strings.Cut(args, ",")
	r.vars = []string{strings.TrimSpace(v)}
	if r.vars[0] == "" || strings.ContainsAny(r.vars[0], " \t") || strings.TrimSpace(nums) == "" {
		return r, fmt.Errorf("%q: want a variable and one to three numbers", args)
	}
	nums, _, _, err := l.defs.substitute(nums, dir, l.configID)
	if err != nil {
		return r, err
	}
	var n []int64
	for _, f := range strings.Split(nums, ",") {
		x, err := strconv.ParseInt(strings.TrimSpace(f), 0, 64)
		if err != nil {
			return r, fmt.Errorf("%q is not a number", strings.TrimSpace(f))
		}
		n = append(n, x)
	}
	switch len(n) {
	case 1:
		r.last, r.start, r.step = n[0], 1, 1
		if n[0] < 0 {
			r.start, r.step = -1, -1
		} else if n[0] < 1 {
			r.step = -1
		}
	case 2:
		r.start, r.last, r.step = n[0], n[1], 1
		if r.start > r.last {
			r.step = -1
		}
	case 3:
		r.start, r.step, r.last = n[0], n[1], n[2]
		if r.step == 0 || (r.start < r.last && r.step < 0) || (r.start > r.last && r.step > 0) {
			return r, fmt.Errorf("from %d by %d never reaches %d", r.start, r.step, r.last)
		}
	default:
		return r, fmt.Errorf("%q: want one to three numbers", nums)
	}
	if r.hex && (r.start < 0 || r.last < 0) {
		return r, fmt.Errorf("~SEQx takes positive numbers only")
	}
	return r, nil
}

// parseLst reads "~LST(var, v1, v2, ...) text" or
// "~LST({a, b}, {1, 2}, {3, 4}) text": a value left out of a set is
// empty.
func parseLst(text string) (repetition, error) {
	var r repetition
	args, rest, ok := parens(strings.TrimLeft(text[4:], " \t"))
	if !ok {
		return r, fmt.Errorf("want ~LST(VAR, VALUE, ...) TEXT, with its parentheses")
	}
	r.text = strings.TrimLeft(rest, " \t")
	items := splitTop(args)
	if len(items) < 2 {
		return r, fmt.Errorf("%q: want the variables, then at least one value", args)
	}
	r.vars = setItems(items[0])
	for _, v := range r.vars {
		if v == "" || strings.ContainsAny(v, " \t") {
			return r, fmt.Errorf("%q is not a variable", v)
		}
	}
	for _, item := range items[1:] {
		set := setItems(item)
		if len(set) > len(r.vars) {
			return r, fmt.Errorf("%q has more values than there are variables", item)
		}
		for len(set) < len(r.vars) {
			set = append(set, "")
		}
		r.sets = append(r.sets, set)
	}
	return r, nil
}

// parens splits "(args) rest" at the first closing parenthesis.
func parens(p string) (args, rest string, ok bool) {
	if !strings.HasPrefix(p, "(") {
		return "", "", false
	}
	args, rest, ok = strings.Cut(p[1:], ")")
	return args, rest, ok
}

// splitTop splits s at the commas outside braces.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// setItems returns the items of "{a, b}", or the one item of "a".
func setItems(s string) []string {
	inner, ok := strings.CutPrefix(s, "{")
	if !ok {
		return []string{s}
	}
	inner = strings.TrimSuffix(inner, "}")
	var out []string
	for _, f := range strings.Split(inner, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}
