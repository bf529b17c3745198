package collector

import (
	"cmp"
	"strings"
	"unsafe"

	"github.com/ipvs-go/ipvs"
)

// textRows keeps each row's label set as the text format writes it,
// shared by the row's families, and the row's values.
type textRows struct {
	d    *descs
	rows [numKinds][]textRow
	// values are the values of each row of a kind, one per family of the
	// kind, in the order of the families.
	values [numKinds][]float64
	// odd tells that some label value has a byte that sorts before the
	// closing quote, or is escaped: then the label sets' text does not
	// sort as their values do.
	odd   bool
	text  []byte
	arena []byte
}

// textRow is one row of a kind: its label set as text, and where its
// values start in its kind's values (-1 for info rows, whose value is 1).
type textRow struct {
	labels string
	at     int32
}

// init readies t for the rows of vss, with room for all of them.
func (t *textRows) init(d *descs, vss []ipvs.VirtualServer) {
	t.d = d
	dests := 0
	for i := range vss {
		dests += len(vss[i].Destinations)
	}
	for k, n := range [numKinds]int{kindService: len(vss), kindServiceInfo: len(vss), kindDest: dests, kindDestInfo: dests} {
		if fs := d.families[k]; len(fs) > 0 {
			t.rows[k] = make([]textRow, 0, n)
			if kind(k) == kindService || kind(k) == kindDest {
				t.values[k] = make([]float64, 0, n*len(fs))
			}
		}
	}
}

func (t *textRows) emit(k kind, r *row) {
	fs := t.d.families[k]
	if len(fs) == 0 {
		return
	}
	s := &t.d.sets[k]
	b := t.text[:0]
	for i, at := range s.sorted {
		b = append(b, ',')
		b = append(b, *s.pairNames[i]...)
		b = append(b, `="`...)
		b = t.appendValue(b, r.labels[at])
		b = append(b, '"')
	}
	if len(b) > 0 {
		b[0] = '{' // the first label's comma; no labels, no braces
		b = append(b, '}')
	}
	t.text = b
	tr := textRow{labels: t.intern(b), at: -1}
	if k == kindService || k == kindDest {
		tr.at = int32(len(t.values[k]))
		for _, f := range fs {
			t.values[k] = append(t.values[k], r.values[f.col])
		}
	}
	t.rows[k] = append(t.rows[k], tr)
}

// appendValue appends a label value, escaped as the text format wants.
func (t *textRows) appendValue(b []byte, v string) []byte {
	for i := range len(v) {
		if c := v[i]; c <= '"' || c == '\\' {
			t.odd = true
			if c == '"' || c == '\\' || c == '\n' {
				return append(b, labelEscaper.Replace(v)...)
			}
		}
	}
	return append(b, v...)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// intern copies b into the arena and returns it as a string: label sets
// are a hundred bytes or so, a million of them one allocation each.
func (t *textRows) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(t.arena) < len(b) {
		t.arena = make([]byte, max(64<<10, len(b)))
	}
	n := copy(t.arena, b)
	// The arena's bytes are never written again: a string may point there.
	s := unsafe.String(&t.arena[0], n)
	t.arena = t.arena[n:]
	return s
}

// compareRows orders rows as a registry orders series: by their label
// values, in the order of the names. Their text sorts the same way unless
// some value is odd: a quote ends a value, and sorts before every byte
// but a few that are odd, and escapes stand for other bytes.
func compareRows(odd bool) func(a, b textRow) int {
	if odd {
		return func(a, b textRow) int { return compareLabelText(a.labels, b.labels) }
	}
	return func(a, b textRow) int { return strings.Compare(a.labels, b.labels) }
}

// compareLabelText compares two label sets of the same names in the text
// format by their values, in order: up to their first difference they are
// alike, so that difference is inside a value, where the shorter value's
// closing quote sorts first and an escape sorts as the byte it stands for.
func compareLabelText(a, b string) int {
	inValue, escaped := false, false
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			switch {
			case escaped:
				escaped = false
			case inValue && a[i] == '\\':
				escaped = true
			case a[i] == '"':
				inValue = !inValue
			}
			continue
		}
		return cmp.Compare(valueRank(a[i:], escaped), valueRank(b[i:], escaped))
	}
	return cmp.Compare(len(a), len(b))
}

// valueRank is the order, among the values' bytes, of the text at the
// start of s, inside a value: -1 for its end.
func valueRank(s string, escaped bool) int {
	c := s[0]
	switch {
	case escaped && c == 'n':
		return '\n'
	case escaped:
		return int(c)
	case c == '"':
		return -1
	case c == '\\' && len(s) > 1:
		return valueRank(s[1:], true)
	}
	return int(c)
}
