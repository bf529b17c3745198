package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// Scrapes at once, how long one may take, and how much of the timeout a
// scraper announces is kept to answer before it gives up: the defaults of
// ipvs_exporter, but a longer timeout.
const (
	maxScrapes          = 4
	scrapeTimeout       = time.Minute
	scrapeTimeoutOffset = 500 * time.Millisecond
)

// Handler serves the metrics, at most four scrapes at once. Without the
// table's, in the format the scraper asks for. With them, as
// ipvs_exporter serves them, with collector.Handler: in the text format,
// the registry's first, then the table's written by collector.WriteText
// straight from the rows it reads. Through the registry, each of the
// table's series would be made as a metric, then gathered as a protocol
// buffer, before one byte is written: a scrape of a large table would
// take several times the memory the daemon holds otherwise.
func (m *Metrics) Handler() http.Handler {
	if len(m.table) == 0 {
		return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapes, Timeout: scrapeTimeout})
	}
	return collector.Handler(m.reg, collector.HandlerOpts{MaxRequestsInFlight: maxScrapes, Timeout: scrapeTimeout,
		TimeoutOffset: scrapeTimeoutOffset}, m.table...)
}
