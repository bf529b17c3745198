package metrics

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// Scrapes at once, and how long one may take.
const (
	maxScrapes    = 4
	scrapeTimeout = time.Minute
)

// Handler serves the metrics, at most four scrapes at once. Without the
// table's, in the format the scraper asks for. With them, in the text
// format, as ipvs_exporter serves them: the registry's first, then the
// table's written by collector.WriteText straight from the rows it reads.
// Through the registry, each of the table's series would be made as a
// metric, then gathered as a protocol buffer, before one byte is written:
// a scrape of a large table would take several times the memory the
// daemon holds otherwise.
func (m *Metrics) Handler() http.Handler {
	if len(m.table) == 0 {
		return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapes, Timeout: scrapeTimeout})
	}
	return &textHandler{m: m, slots: make(chan struct{}, maxScrapes)}
}

type textHandler struct {
	m     *Metrics
	slots chan struct{}
}

func (h *textHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		http.Error(w, "too many scrapes at once", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
	defer cancel()
	mfs, err := h.m.reg.Gather()
	if err != nil && len(mfs) == 0 {
		http.Error(w, "gathering the metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", collector.TextContentType)
	var out io.Writer = w
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	enc := expfmt.NewEncoder(out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if enc.Encode(mf) != nil {
			return
		}
	}
	// A read of the table that fails is counted in the table's own
	// scrape metrics, which WriteText writes too.
	_ = collector.WriteText(ctx, out, h.m.table...)
}
