package ipvs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// statsProc is a procfs whose ip_vs_stats is text, or fails with err.
type statsProc struct {
	seam.Proc // the other files: never read here
	text      string
	err       error
}

func (p statsProc) ReadStats() ([]byte, error) { return []byte(p.text), p.err }

func totalsClient(p seam.Proc) *Client {
	c := newClientWith(&Config{}, nil, genlFamily{})
	c.proc = p
	return c
}

// TestTotals maps each value of ip_vs_stats to its field, and each way a
// read fails to an *Error of the operation that matches its cause.
func TestTotals(t *testing.T) {
	want := Stats{Connections: 1, InPackets: 2, OutPackets: 3, InBytes: 4, OutBytes: 5,
		ConnectionRate: 6, InPacketRate: 7, OutPacketRate: 8, InByteRate: 9, OutByteRate: 1 << 40}
	text := fakekernel.FormatStats(procfs.Stats(want))
	if got, err := totalsClient(statsProc{text: text}).Totals(context.Background()); err != nil || got != want {
		t.Errorf("Totals of\n%s= %+v, %v; want %+v", text, got, err, want)
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name    string
		c       *Client
		ctx     context.Context
		targets []error
		says    string
	}{
		{"no procfs", totalsClient(nil), context.Background(), []error{errors.ErrUnsupported}, "reads no procfs"},
		{"a cancelled call", totalsClient(statsProc{text: text}), cancelled, []error{context.Canceled}, "canceled"},
		{"no ip_vs", totalsClient(statsProc{err: &fs.PathError{Op: "open", Path: procfs.StatsFile, Err: syscall.ENOENT}}),
			context.Background(), []error{ErrNoIPVS, os.ErrNotExist, syscall.ENOENT}, "ip_vs_stats"},
		{"a line that does not parse", totalsClient(statsProc{text: strings.Replace(text, "       1 ", "      -1 ", 1)}),
			context.Background(), []error{os.ErrInvalid}, `ip_vs_stats line 3: invalid column Total Conns: "-1"`},
	} {
		_, err := tt.c.Totals(tt.ctx)
		var e *Error
		if !errors.As(err, &e) || e.Op != opTotals || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v; want an *Error of %q that says %q", tt.name, err, opTotals, tt.says)
		}
		for _, target := range tt.targets {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not match %v", tt.name, err, target)
			}
		}
	}
}
