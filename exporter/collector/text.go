package collector

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TextContentType is the media type of what WriteText writes: the
// Prometheus text format, version 0.0.4.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText reads the tables of the Collectors, all at once, and writes
// their metrics to w in the Prometheus text format, as a registry with
// them registered would write them: families sorted by name, each
// family's series by their labels.
//
// It is the fast way to serve a large table. A registry, and Gather too,
// build a million client_model objects for 100,000 destinations, and the
// encoder then writes each label of each series anew. WriteText writes
// each row's labels once, then each family's lines straight from the
// rows. The series of summed labels, the settings and the scrape metrics
// are few, and go through client_model as usual.
//
// The Collectors must have the same options but for WithNetNS, whose
// values must differ, as in one registry.
func WriteText(w io.Writer, cs ...*Collector) error {
	for _, c := range cs[min(1, len(cs)):] {
		if !sameFamilies(&cs[0].d, &c.d) {
			return errors.New("collector: WriteText of Collectors with different metrics or labels")
		}
	}
	scrapes := make([]textScrape, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { scrapes[i].read(c) })
	}
	wg.Wait()
	var errs []error
	others := map[string]*dto.MetricFamily{}
	for i := range scrapes {
		errs = append(errs, scrapes[i].err)
		for _, f := range scrapes[i].others {
			if have := others[f.GetName()]; have != nil {
				have.Metric = append(have.Metric, f.Metric...)
			} else {
				others[f.GetName()] = f
			}
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var table []textFamily // empty when summing: the sums are among others
	if len(cs) > 0 && !cs[0].summing() {
		table = tableFamilies(&cs[0].d)
	}
	names := make([]string, 0, len(table)+len(others))
	for _, f := range table {
		names = append(names, f.name)
	}
	for name := range others {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if f := others[name]; f != nil {
			slices.SortFunc(f.Metric, compareMetrics)
			if _, err := expfmt.MetricFamilyToText(bw, f); err != nil {
				return err
			}
			continue
		}
		i, _ := slices.BinarySearchFunc(table, name, func(f textFamily, name string) int { return strings.Compare(f.name, name) })
		writeFamily(bw, &table[i], mergeRows(scrapes, table[i].kind))
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// sameFamilies reports whether two Collectors make the same families with
// the same label names.
func sameFamilies(a, b *descs) bool {
	for k := range numKinds {
		if len(a.families[k]) != len(b.families[k]) || !slices.EqualFunc(a.sets[k].pairNames, b.sets[k].pairNames,
			func(x, y *string) bool { return *x == *y }) {
			return false
		}
		for i, f := range a.families[k] {
			if a.meta[f.desc] != b.meta[b.families[k][i].desc] {
				return false
			}
		}
	}
	return true
}

// textFamily is one family of the table's rows.
type textFamily struct {
	name, help string
	counter    bool
	kind       kind
	// index is the family's among its kind's, that of its values in a
	// row.
	index int
}

func tableFamilies(d *descs) []textFamily {
	var fs []textFamily
	for k, kfs := range d.families {
		for i, f := range kfs {
			m := d.meta[f.desc]
			fs = append(fs, textFamily{m.name, m.help, m.typ == dto.MetricType_COUNTER, kind(k), i})
		}
	}
	slices.SortFunc(fs, func(a, b textFamily) int { return cmp.Compare(a.name, b.name) })
	return fs
}

// mergeRows returns the rows of a kind of every scrape, sorted.
func mergeRows(scrapes []textScrape, k kind) []textRow {
	if len(scrapes) == 1 {
		return scrapes[0].rows.rows[k]
	}
	var all []textRow
	for i := range scrapes {
		all = append(all, scrapes[i].rows.rows[k]...)
	}
	slices.SortFunc(all, compareRows)
	return all
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// writeFamily writes one family of the table, if it has series, as
// expfmt.MetricFamilyToText would; errors wait for the final Flush.
func writeFamily(w *bufio.Writer, f *textFamily, rows []textRow) {
	if len(rows) == 0 {
		return
	}
	typ := " gauge\n"
	if f.counter {
		typ = " counter\n"
	}
	w.WriteString("# HELP " + f.name + " ")
	helpEscaper.WriteString(w, f.help)
	w.WriteString("\n# TYPE " + f.name + typ)
	var num [32]byte
	for i := range rows {
		r := &rows[i]
		w.WriteString(f.name)
		w.WriteString(r.labels)
		w.WriteByte(' ')
		v := 1.0
		if r.values != nil {
			v = r.values[f.index]
		}
		w.Write(appendFloat(num[:0], v))
		w.WriteByte('\n')
	}
}

// appendFloat formats v as the text format's encoder does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 1:
		return append(b, '1')
	case v == 0:
		return append(b, '0')
	case v == -1:
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// textScrape is what one Collector's scrape yields for WriteText.
type textScrape struct {
	rows   textRows
	others []*dto.MetricFamily
	err    error
}

// read scrapes c: the table's rows into s.rows, the rest into s.others.
func (s *textScrape) read(c *Collector) {
	families := map[*prometheus.Desc]*dto.MetricFamily{}
	send := func(m prometheus.Metric) {
		f := families[m.Desc()]
		if f == nil {
			meta, ok := c.d.meta[m.Desc()]
			if !ok {
				s.err = fmt.Errorf("collector: a metric of an unknown descriptor: %s", m.Desc())
				return
			}
			f = &dto.MetricFamily{Name: &meta.name, Help: &meta.help, Type: meta.typ.Enum()}
			families[m.Desc()] = f
			s.others = append(s.others, f)
		}
		dm := &dto.Metric{}
		if err := m.Write(dm); err != nil {
			s.err = err
			return
		}
		f.Metric = append(f.Metric, dm)
	}
	c.scrape(send, func(vss []ipvs.VirtualServer) {
		if c.summing() {
			c.tableEmitter(vss).flush(send)
			return
		}
		s.rows.d = &c.d
		c.emitTable(&s.rows, vss)
		for k := range s.rows.rows {
			slices.SortFunc(s.rows.rows[k], compareRows)
		}
	})
}

// textRows keeps each row's label values, to sort by, and its label set
// as the text format writes it, shared by the row's families.
type textRows struct {
	d      *descs
	rows   [numKinds][]textRow
	vals   slab[string]
	floats slab[float64]
	text   []byte
	arena  []byte
}

// textRow is one row of a kind: its label values in the order of their
// names, its label set as text, and the value of each family of the kind
// (nil for info rows, whose value is 1).
type textRow struct {
	vals   []string
	labels string
	values []float64
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func (t *textRows) emit(k kind, r *row) {
	fs := t.d.families[k]
	if len(fs) == 0 {
		return
	}
	s := &t.d.sets[k]
	vals := t.vals.take(len(s.sorted))
	b := t.text[:0]
	for i, at := range s.sorted {
		vals[i] = r.labels[at]
		b = append(b, ',')
		b = append(b, *s.pairNames[i]...)
		b = append(b, `="`...)
		if strings.ContainsAny(vals[i], "\\\n\"") {
			b = append(b, labelEscaper.Replace(vals[i])...)
		} else {
			b = append(b, vals[i]...)
		}
		b = append(b, '"')
	}
	if len(b) > 0 {
		b[0] = '{' // the first label's comma; no labels, no braces
		b = append(b, '}')
	}
	t.text = b
	tr := textRow{vals: vals, labels: t.intern(b)}
	if k == kindService || k == kindDest {
		tr.values = t.floats.take(len(fs))
		for i, f := range fs {
			tr.values[i] = r.values[f.col]
		}
	}
	t.rows[k] = append(t.rows[k], tr)
}

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
// values, in the order of the names.
func compareRows(a, b textRow) int {
	for i := range min(len(a.vals), len(b.vals)) {
		if c := strings.Compare(a.vals[i], b.vals[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.vals), len(b.vals))
}
