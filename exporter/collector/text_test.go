package collector

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// withoutDuration drops the scrape duration's lines, which vary.
func withoutDuration(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if !strings.Contains(line, "ipvs_scrape_duration_seconds") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestWriteTextIsTheRegistrys checks that WriteText writes what a
// pedantic registry gathers from the same Collectors, byte for byte, with
// every option, label values that need escaping, and several namespaces.
func TestWriteTextIsTheRegistrys(t *testing.T) {
	for _, tc := range goldenCases {
		for _, namespaces := range [][]string{nil, {"", "ingress_sbox", "b"}} {
			var cs []*Collector
			reg := prometheus.NewPedanticRegistry()
			for i := range max(1, len(namespaces)) {
				src := goldenTable()
				src.states = map[string]int{"ESTABLISHED": 3, "NONE": 1}
				src.vss[0].Scheduler = "odd\"\\\nname"
				opts := append(tc.opts, WithRates(), WithConnectionStates())
				if namespaces != nil {
					opts = append(opts, WithNetNS(namespaces[i]))
				}
				c, err := New(src, opts...)
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
				reg.MustRegister(c)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(&want, mf); err != nil {
					t.Fatal(err)
				}
			}
			var got bytes.Buffer
			if err := WriteText(t.Context(), &got, cs...); err != nil {
				t.Fatal(err)
			}
			if g, w := withoutDuration(got.String()), withoutDuration(want.String()); g != w {
				t.Errorf("%s, namespaces %q: WriteText wrote\n%s\nthe registry\n%s", tc.name, namespaces, g, w)
			}
		}
	}
}

func TestWriteTextRefusesDifferentCollectors(t *testing.T) {
	a, _ := New(goldenTable(), WithNetNS("a"))
	b, _ := New(goldenTable(), WithNetNS("b"), WithRates())
	if err := WriteText(t.Context(), &bytes.Buffer{}, a, b); err == nil {
		t.Error("WriteText of Collectors with and without rates succeeded")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextReportsWriteErrors(t *testing.T) {
	c, _ := New(goldenTable())
	if err := WriteText(t.Context(), failingWriter{}, c); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
}

// TestWriteTextWithoutIPVS checks that a failed read still writes ipvs_up
// 0 and the error counter, and returns no error: the failure is the
// metrics' to tell.
func TestWriteTextWithoutIPVS(t *testing.T) {
	src := goldenTable()
	src.err = errors.New("no IPVS")
	c, _ := New(src)
	var b bytes.Buffer
	if err := WriteText(t.Context(), &b, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipvs_up 0\n", `ipvs_scrape_errors_total{operation="virtual_servers"} 1` + "\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "ipvs_service_") {
		t.Errorf("service metrics without a table:\n%s", b.String())
	}
}

// TestLabelTextSortsAsValues checks that label sets in the text format
// sort as their values do, in order, whatever bytes the values hold.
func TestLabelTextSortsAsValues(t *testing.T) {
	alphabet := []byte{'\n', ' ', '!', '"', '#', '\\', 'a', 'n', 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	value := func() string {
		b := make([]byte, rng.IntN(4))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var rows textRows
	text := func(a, b string) string {
		out := []byte(`{a="`)
		out = rows.appendValue(out, a)
		out = append(out, `",b="`...)
		out = rows.appendValue(out, b)
		return string(append(out, `"}`...))
	}
	for range 100000 {
		a1, a2, b1, b2 := value(), value(), value(), value()
		want := strings.Compare(a1, b1)
		if want == 0 {
			want = strings.Compare(a2, b2)
		}
		if got := compareLabelText(text(a1, a2), text(b1, b2)); got != want {
			t.Fatalf("compareLabelText(%q, %q) = %d, want %d", text(a1, a2), text(b1, b2), got, want)
		}
	}
}

// TestAppendFloat checks the text format's numbers against strconv's 'g',
// which the encoder uses, around the integers' fast path.
func TestAppendFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []float64{0, 1, -1, 0.5, 999999, 1e6, 1e6 + 1, 1234567, 1e15, 1<<53 - 1, 1 << 53, 1<<53 + 2, 1e21, 1e22, math.MaxUint64, -5, 3.25e7}
	for range 100000 {
		values = append(values, float64(rng.Uint64N(1<<53)), float64(rng.Uint64N(1e9)), float64(rng.Uint64N(1e9))*1000)
	}
	for _, v := range values {
		if got, want := string(appendFloat(nil, v)), strconv.FormatFloat(v, 'g', -1, 64); got != want && !(v == 1 || v == 0 || v == -1) {
			t.Fatalf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	}
}

// TestWriteTextInParts checks a table large enough to be cut into parts,
// with a service the dump yielded twice, once in the first part and once
// in the last, against a registry.
func TestWriteTextInParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	src := bigTable(4*partServices, 2)
	src.vss = append(src.vss, src.vss[0])
	c, err := New(src, WithRates())
	if err != nil {
		t.Fatal(err)
	}
	want := exposition(t, c)
	var got bytes.Buffer
	if err := WriteText(t.Context(), &got, c); err != nil {
		t.Fatal(err)
	}
	if g := withoutDuration(got.String()); g != string(want) {
		t.Errorf("WriteText in parts differs from the registry: %d bytes against %d", len(g), len(want))
	}
}

// panicking is a Source whose Daemons panics, as a bug would.
type panicking struct{ *fakeSource }

func (panicking) Daemons(context.Context) ([]ipvs.Daemon, error) { panic("a bug") }

// TestWriteTextSurvivesAPanic checks that a panic in a scrape's goroutine
// fails that scrape with an error, as a registry does, instead of ending
// the program.
func TestWriteTextSurvivesAPanic(t *testing.T) {
	c, err := New(panicking{goldenTable()})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteText(t.Context(), io.Discard, c); err == nil || !strings.Contains(err.Error(), "a bug") {
		t.Errorf("error %v, want the panic's", err)
	}
}
