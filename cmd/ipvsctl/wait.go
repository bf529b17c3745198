package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// waitInterval is how often apply --wait reads the table.
const waitInterval = time.Second

// waitDrains runs apply --wait: it converges the table to desired again
// every interval, with a reconcile.Reconciler, which remembers since when
// each destination has drained and so removes one whose connections have
// ended or whose --drain-timeout has passed, until none drains. A drain's
// clock starts when the wait first reads the destination at weight 0.
func (e *env) waitDrains(desired []ipvs.VirtualServer, opts reconcile.Options) int {
	r := reconcile.NewReconciler(e.client, opts)
	interval := e.waitInterval
	if interval == 0 {
		interval = waitInterval
	}
	pr := newProgress(e.errw)
	defer pr.end()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		p, err := r.Sync(e.ctx, desired)
		if err != nil {
			pr.end()
			if code := e.interrupted(); code != 0 {
				return code
			}
			fmt.Fprintln(e.errw, err)
			return 255
		}
		if p.Empty() && len(p.Draining()) == 0 {
			return 0
		}
		pr.show(drainStatus(p.Draining(), opts.DrainTimeout))
		select {
		case <-tick.C:
		case <-e.ctx.Done():
			pr.end()
			return e.interrupted()
		}
	}
}

// drainStatus says how many destinations drain, with how many
// connections, and when the first of them times out.
func drainStatus(ds []reconcile.Draining, timeout time.Duration) string {
	var conns uint64
	var first time.Time
	for _, d := range ds {
		conns += uint64(d.Destination.ActiveConnections) + uint64(d.Destination.InactiveConnections)
		if !d.Since.IsZero() && (first.IsZero() || d.Since.Before(first)) {
			first = d.Since
		}
	}
	s := fmt.Sprintf("waiting for %d draining destination(s), %d connection(s) left", len(ds), conns)
	if timeout > 0 && !first.IsZero() {
		left := max(time.Until(first.Add(timeout)), 0).Round(time.Second)
		s += fmt.Sprintf("; the first is removed in %s at the latest", left)
	}
	return s
}

// progress shows a status line: rewritten in place on a terminal, else
// printed when it changes.
type progress struct {
	w        io.Writer
	terminal bool
	last     string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	// A terminal is a character device (so is /dev/null, where a
	// rewritten line does no harm).
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		p.terminal = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return p
}

func (p *progress) show(s string) {
	switch {
	case p.terminal:
		fmt.Fprintf(p.w, "\r\033[K%s", s)
	case s != p.last && !sameCounts(s, p.last):
		fmt.Fprintln(p.w, s)
	}
	p.last = s
}

// sameCounts compares two status lines but for the time left, which a
// log need not repeat every second.
func sameCounts(a, b string) bool {
	a, _, _ = strings.Cut(a, ";")
	b, _, _ = strings.Cut(b, ";")
	return a == b
}

// end finishes the status line on a terminal.
func (p *progress) end() {
	if p.terminal && p.last != "" {
		fmt.Fprintln(p.w)
	}
	p.last = ""
}
