package collector

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ipvs-go/ipvs"
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
// It is the fast way to serve a large table. A registry builds a million
// client_model objects for 100,000 destinations and checks each, and the
// encoder then writes each label of each series anew. WriteText writes
// each row's labels once, then each family's lines straight from the
// rows, without a registry's checks: it relies on the series being
// unique by construction (see the package doc). The series of summed
// labels, the settings and the scrape metrics are few, and go through
// client_model as usual.
//
// The Collectors must have the same options but for WithNetNS, whose
// values must differ, as they must in one registry: WriteText refuses
// Collectors of different metrics, but cannot tell two with one netns
// label from one, so the caller keeps them apart. ctx bounds the reads, each
// Collector's also by its own timeout; a read that ctx ends counts as a
// failed read, as a timeout does.
func WriteText(ctx context.Context, w io.Writer, cs ...*Collector) error {
	for _, c := range cs[min(1, len(cs)):] {
		if !sameFamilies(&cs[0].d, &c.d) {
			return errors.New("collector: WriteText of Collectors with different metrics or labels")
		}
	}
	scrapes := make([]textScrape, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			defer recovered(&scrapes[i].err)
			scrapes[i].read(ctx, c)
		})
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
	var merged [numKinds]*mergedRows
	for _, name := range names {
		if f := others[name]; f != nil {
			slices.SortFunc(f.Metric, compareMetrics)
			if _, err := expfmt.MetricFamilyToText(bw, f); err != nil {
				return err
			}
			continue
		}
		i, _ := slices.BinarySearchFunc(table, name, func(f textFamily, name string) int { return strings.Compare(f.name, name) })
		k := table[i].kind
		if merged[k] == nil {
			merged[k] = mergeRows(scrapes, k)
		}
		writeFamily(bw, &table[i], merged[k].rows, merged[k].values)
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

// mergedRows are the rows of a kind of every part of every scrape, sorted,
// with the values they index.
type mergedRows struct {
	rows   []textRow
	values []float64
}

// mergeRows merges the sorted rows of a kind of every part of every
// scrape. The parts of one scrape may both hold a service the kernel
// yielded twice, as its table changed during the dump: their rows are
// alike, and only the first is kept.
func mergeRows(scrapes []textScrape, k kind) *mergedRows {
	if len(scrapes) == 1 && len(scrapes[0].parts) == 1 {
		t := &scrapes[0].parts[0]
		return &mergedRows{t.rows[k], t.values[k]}
	}
	var runs [][]textRow
	var values []float64
	odd := false
	for i := range scrapes {
		for j := range scrapes[i].parts {
			t := &scrapes[i].parts[j]
			base := int32(len(values))
			run := slices.Clone(t.rows[k])
			for r := range run {
				if run[r].at >= 0 {
					run[r].at += base
				}
			}
			runs = append(runs, run)
			values = append(values, t.values[k]...)
			odd = odd || t.odd
		}
	}
	compare := compareRows(odd)
	for len(runs) > 1 {
		next := runs[:0:0]
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
				break
			}
			next = append(next, mergeRuns(runs[i], runs[i+1], compare))
		}
		runs = next
	}
	var rows []textRow
	if len(runs) == 1 {
		rows = slices.CompactFunc(runs[0], func(a, b textRow) bool { return a.labels == b.labels })
	}
	return &mergedRows{rows, values}
}

// mergeRuns merges two sorted runs of rows.
func mergeRuns(a, b []textRow, compare func(a, b textRow) int) []textRow {
	out := make([]textRow, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compare(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// writeFamily writes one family of the table, if it has series, as
// expfmt.MetricFamilyToText would; errors wait for the final Flush.
func writeFamily(w *bufio.Writer, f *textFamily, rows []textRow, values []float64) {
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
	for _, r := range rows {
		w.WriteString(f.name)
		w.WriteString(r.labels)
		w.WriteByte(' ')
		v := 1.0
		if r.at >= 0 {
			v = values[int(r.at)+f.index]
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
	case v > 0 && v < 1<<53 && v == math.Trunc(v):
		return appendInteger(b, uint64(v))
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendInteger formats n, below 2⁵³, as strconv.AppendFloat(b, n, 'g',
// -1, 64) does, without its search for the shortest digits, which the
// counters, integers, do not need. Below 2⁵³ every integer is a float64
// of its own, so the shortest digits that stand for it are its own
// without their trailing zeros; 'g' writes them with an exponent from
// 10⁶ up.
func appendInteger(b []byte, n uint64) []byte {
	if n < 1e6 {
		return strconv.AppendUint(b, n, 10)
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], n, 10)
	exp := len(digits) - 1
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, "e+"...)
	if exp < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}

// textScrape is what one Collector's scrape yields for WriteText.
type textScrape struct {
	// parts are the table's rows, each part's sorted: a large table is
	// cut into parts that are made at once, one per processor.
	parts  []textRows
	others []*dto.MetricFamily
	err    error
}

// partServices is the fewest services worth a part of their own.
const partServices = 1024

// read scrapes c: the table's rows into s.parts, the rest into s.others.
func (s *textScrape) read(ctx context.Context, c *Collector) {
	fs := familyBuilder{d: &c.d}
	var partErrs []error
	c.scrape(ctx, fs.add, func(vss []ipvs.VirtualServer) {
		if c.summing() {
			c.tableEmitter(vss).flush(fs.add)
			return
		}
		n := max(1, min(runtime.GOMAXPROCS(0), len(vss)/partServices))
		s.parts = make([]textRows, n)
		partErrs = make([]error, n)
		var wg sync.WaitGroup
		for i := range s.parts {
			part := vss[i*len(vss)/n : (i+1)*len(vss)/n]
			wg.Go(func() {
				defer recovered(&partErrs[i])
				t := &s.parts[i]
				t.init(&c.d, part)
				c.emitTable(t, part)
				for k := range t.rows {
					slices.SortFunc(t.rows[k], compareRows(t.odd))
				}
			})
		}
		wg.Wait()
	})
	s.others, s.err = fs.list, errors.Join(append(partErrs, fs.err)...)
}

// recovered, deferred in a goroutine of WriteText, turns its panic into
// *err, as a registry turns a Collector's: a bug fails the scrape, not
// the program, whose goroutine it is not.
func recovered(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("collector: a scrape panicked: %v\n%s", r, debug.Stack())
	}
}
