package collector

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
)

// HandlerOpts configure the Handler.
type HandlerOpts struct {
	// MaxRequestsInFlight, if positive, bounds the scrapes served at
	// once; one more waits for one to end at most half its timeout (as
	// long as its scraper waits, if it has none), then gets 503 Service
	// Unavailable.
	MaxRequestsInFlight int
	// Timeout, if positive, bounds a scrape, reading the tables and
	// writing the answer alike; a scraper that announces a shorter one
	// (ScrapeTimeoutHeader) gets that, less
	// TimeoutOffset. Without either, a scrape is bounded only by the
	// Collectors' own timeouts and the request's context.
	Timeout time.Duration
	// TimeoutOffset is taken from the timeout a scraper announces, to
	// answer before it gives up.
	TimeoutOffset time.Duration
	// Logger logs what the scraper is not told (a scraper gone away, a
	// registry that failed to gather); nil discards.
	Logger *slog.Logger
}

// ScrapeTimeoutHeader is the request header in which Prometheus says how
// long it waits for a scrape, in seconds; the Handler reads it.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// Handler returns a handler of scrapes that writes the metrics of g,
// then those of the Collectors with WriteText, in the text format (every
// scraper reads it, so there is no negotiation), gzipped if the scraper
// accepts gzip. The Collectors are not registered in g: a registry would
// check each of a large table's series at every scrape and build objects
// for them, where WriteText writes them straight from the table, relying
// on their being unique by construction (see the package doc; the
// Collectors must differ in WithNetNS, as for WriteText).
//
// A scrape of a large table holds the whole table and its text while it
// is written, so scrapes are bounded in number and in time (see
// HandlerOpts): past its timeout, a write fails instead of waiting for a
// scraper that stopped reading, so that it holds nothing past it.
func Handler(g prometheus.Gatherer, opts HandlerOpts, cs ...*Collector) http.Handler {
	h := &handler{g: g, cs: cs, opts: opts, logger: opts.Logger}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRequestsInFlight > 0 {
		h.slots = make(chan struct{}, opts.MaxRequestsInFlight)
	}
	return h
}

// handler is the Handler.
type handler struct {
	g      prometheus.Gatherer
	cs     []*Collector
	opts   HandlerOpts
	logger *slog.Logger
	slots  chan struct{} // nil: no bound
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	timeout := h.scrapeTimeout(r.Header.Get(ScrapeTimeoutHeader))
	if timeout > 0 {
		deadline := time.Now().Add(timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
		// Past the deadline a write fails instead of waiting for a
		// scraper that stopped reading, and the scrape's memory goes
		// with it.
		if err := http.NewResponseController(w).SetWriteDeadline(deadline); err != nil {
			h.logger.Debug("no write deadline for the scrape", "err", err)
		}
	}
	if !h.acquire(ctx, timeout/2) {
		http.Error(w, fmt.Sprintf("%d scrapes are running, the most at once; none ended within %v", cap(h.slots), timeout/2),
			http.StatusServiceUnavailable)
		return
	}
	defer h.release()

	w.Header().Set("Content-Type", TextContentType)
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		// The fastest level, since compressing a large table's text
		// costs more than writing it even so (the exporter's README,
		// "Cost of a scrape").
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	mfs, err := h.g.Gather()
	if err != nil {
		// What it gathered is written, and the table's series after.
		h.logger.Error("gathering the registry's metrics", "err", err)
	}
	enc := expfmt.NewEncoder(out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			h.logger.Debug("writing the scrape", "err", err)
			return
		}
	}
	if err := WriteText(ctx, out, h.cs...); err != nil {
		// Failed reads are in ipvs_up and ipvs_scrape_errors_total; what
		// is left is a scraper gone away or too slow, or a bug.
		h.logger.Debug("writing the scrape", "err", err)
	}
}

// scrapeTimeout returns how long a scrape may take: the timeout the
// scraper announces less the offset (the announced one itself if the
// offset would leave nothing), but never more than opts.Timeout if it is
// set; opts.Timeout if the scraper announces none, or one that is not a
// positive number. Zero is no bound.
func (h *handler) scrapeTimeout(header string) time.Duration {
	limit, offset := h.opts.Timeout, h.opts.TimeoutOffset
	if header == "" {
		return limit
	}
	s, err := strconv.ParseFloat(header, 64)
	if err != nil || !(s > 0) {
		h.logger.Debug("ignoring the scraper's timeout", "header", ScrapeTimeoutHeader, "value", header)
		return limit
	}
	if limit > 0 && s*float64(time.Second) >= float64(limit+offset) {
		return limit
	}
	announced := time.Duration(s * float64(time.Second))
	if announced > offset {
		announced -= offset
	}
	return announced
}

// acquire takes a slot, waiting at most wait (without end if wait is
// zero) or until ctx ends; it reports whether it got one.
func (h *handler) acquire(ctx context.Context, wait time.Duration) bool {
	if h.slots == nil {
		return true
	}
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	var expired <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return true
	case <-expired:
	case <-ctx.Done():
	}
	return false
}

// release gives back the slot acquire took.
func (h *handler) release() {
	if h.slots != nil {
		<-h.slots
	}
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
