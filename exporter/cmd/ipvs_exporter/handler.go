package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// textHandler serves the exporter's own registry and the namespaces'
// Collectors in the text format. The Collectors are not registered: a
// registry would check each of a large table's million series at every
// scrape and build objects for them, where collector.WriteText writes
// them straight from the table; their series are unique by construction
// (see package collector), and parseNamespaces refuses two namespaces
// with one label. Every scraper reads the text format, so there is no
// negotiation.
//
// A scrape of a large table holds the whole table and its text while it
// is written, so scrapes are bounded in number and in time: at most
// limit run at once, and one beyond waits for a slot at most half its
// timeout, then gets 503 Service Unavailable; each ends at its timeout,
// reads and writing alike, so that a scraper that stops reading holds
// nothing past it.
type textHandler struct {
	reg    prometheus.Gatherer
	cs     []*collector.Collector
	logger *slog.Logger
	slots  *slots
	// timeout bounds a scrape; offset is taken from the timeout a
	// scraper announces, to answer before it gives up.
	timeout, offset time.Duration
}

// scrapeTimeoutHeader is where Prometheus says how long it waits for a
// scrape, in seconds.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

func (h textHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	timeout := h.scrapeTimeout(r.Header.Get(scrapeTimeoutHeader))
	deadline := time.Now().Add(timeout)
	if !h.slots.acquire(r.Context(), timeout/2) {
		http.Error(w, fmt.Sprintf("%d scrapes are running, the most at once; none ended within %v", h.slots.size(), timeout/2),
			http.StatusServiceUnavailable)
		return
	}
	defer h.slots.release()
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	// Past the deadline a write fails instead of waiting for a scraper
	// that stopped reading, and the scrape's memory goes with it.
	if err := http.NewResponseController(w).SetWriteDeadline(deadline); err != nil {
		h.logger.Debug("no write deadline for the scrape", "err", err)
	}

	w.Header().Set("Content-Type", collector.TextContentType)
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		// The fastest level, since compressing a large table's text
		// costs more than writing it even so (the README's "Cost of a
		// scrape").
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		h.logger.Error("gathering the exporter's own metrics", "err", err)
	}
	enc := expfmt.NewEncoder(out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			h.logger.Debug("writing the scrape", "err", err)
			return
		}
	}
	if err := collector.WriteText(ctx, out, h.cs...); err != nil {
		// Failed reads are in ipvs_up and ipvs_scrape_errors_total; what
		// is left is a scraper gone away or too slow, or a bug.
		h.logger.Debug("writing the scrape", "err", err)
	}
}

// scrapeTimeout returns how long a scrape may take: the timeout the
// scraper announces less the offset (the announced one itself if the
// offset would leave nothing), but never more than h.timeout; h.timeout
// if the scraper announces none, or one that is not a positive number.
func (h textHandler) scrapeTimeout(header string) time.Duration {
	if header == "" {
		return h.timeout
	}
	s, err := strconv.ParseFloat(header, 64)
	if err != nil || !(s > 0) {
		h.logger.Debug("ignoring the scraper's timeout", "header", scrapeTimeoutHeader, "value", header)
		return h.timeout
	}
	if s*float64(time.Second) >= float64(h.timeout+h.offset) {
		return h.timeout
	}
	announced := time.Duration(s * float64(time.Second))
	if announced > h.offset {
		announced -= h.offset
	}
	return announced
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip with a
// nonzero weight.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(v, 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// slots bounds the scrapes that run at once.
type slots chan struct{}

func newSlots(n int) *slots {
	s := make(slots, n)
	return &s
}

func (s *slots) size() int { return cap(*s) }

// acquire takes a slot, waiting at most wait or until ctx ends; it
// reports whether it got one.
func (s *slots) acquire(ctx context.Context, wait time.Duration) bool {
	select {
	case *s <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case *s <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (s *slots) release() { <-*s }
