// Command ipvs_exporter serves the IPVS table of one or more network
// namespaces as Prometheus metrics, one dump per namespace per scrape.
//
//	ipvs_exporter [--web.listen-address=:9778] [--netns=NAME_OR_PATH ...]
//
// It follows the conventions of Prometheus exporters: TLS and basic
// authentication through --web.config.file (exporter-toolkit), logging
// through --log.level and --log.format (promslog), --version. It needs
// CAP_NET_ADMIN, which IPVS asks of every read, and CAP_SYS_ADMIN to
// enter other network namespaces.
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/internal/buildinfo"
)

const name = "ipvs_exporter"

// config is what the command line sets, apart from the toolkit's flags.
type config struct {
	metricsPath            string
	namespaces             []string
	destinations           bool
	labels                 string
	include                string
	exclude                string
	rates                  bool
	states                 bool
	timeout                time.Duration
	timeoutOffset          time.Duration
	maxRequests            int
	disableExporterMetrics bool
	// The server's bounds on a connection: reading a request, and lying
	// idle between requests.
	readTimeout, idleTimeout time.Duration
}

// The server's bounds when the command line does not set them (tests do).
const (
	readTimeout = 10 * time.Second
	// idleTimeout outlasts the usual scrape intervals, so that a
	// scraper's connection stays open from one scrape to the next.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds what one request's headers may take.
	maxHeaderBytes = 64 << 10
)

func main() {
	build := buildinfo.Read()
	setVersion(build)
	app := kingpin.New(name, "Exports the IPVS tables of network namespaces as Prometheus metrics.")
	var cfg config
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&cfg.metricsPath)
	app.Flag("web.disable-exporter-metrics", "Leave out the exporter's own metrics (promhttp_*, process_*, go_*).").
		BoolVar(&cfg.disableExporterMetrics)
	app.Flag("netns", "Network namespace to export, repeatable: a name under /var/run/netns, or a path such as "+
		"/var/run/docker/netns/ingress_sbox; its netns label is the name or the path's last element. \"\" is the exporter's own. "+
		"Default: the exporter's own only.").StringsVar(&cfg.namespaces)
	app.Flag("collector.destinations", "Export per-destination metrics (--no-collector.destinations leaves them out).").
		Default("true").BoolVar(&cfg.destinations)
	app.Flag("collector.labels", "Comma-separated identity labels to keep ("+strings.Join(collector.LabelNames(), ",")+
		"); series that then share their labels are summed. Empty: all.").StringVar(&cfg.labels)
	app.Flag("collector.services.include", "Regular expression: export only the services whose name (\"tcp 10.0.0.1:80\", "+
		"\"udp [2001:db8::1]:53\", \"fwmark 7 ipv4\") matches.").StringVar(&cfg.include)
	app.Flag("collector.services.exclude", "Regular expression: leave out the services whose name matches.").StringVar(&cfg.exclude)
	app.Flag("collector.rates", "Also export the kernel's rate estimates as gauges.").BoolVar(&cfg.rates)
	app.Flag("collector.connection-states", "Also export the connection table's entries by state; "+
		"the kernel then prints its whole connection table at each scrape.").BoolVar(&cfg.states)
	app.Flag("scrape.timeout", "Longest time a scrape may take, reading the tables and writing the answer; "+
		"a scraper's "+collector.ScrapeTimeoutHeader+", less --scrape.timeout-offset, shortens it.").
		Default(collector.DefaultTimeout.String()).DurationVar(&cfg.timeout)
	app.Flag("scrape.timeout-offset", "Time taken from the timeout a scraper announces, to answer before it gives up.").
		Default("500ms").DurationVar(&cfg.timeoutOffset)
	app.Flag("web.max-requests", "Most scrapes served at once; one more waits for one to end at most half its timeout, "+
		"then gets 503 Service Unavailable.").Default("2").IntVar(&cfg.maxRequests)
	webFlags := kingpinflag.AddFlags(app, ":9778")
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	app.Version(build.Line(name))
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(os.Args[1:]))
	cfg.readTimeout, cfg.idleTimeout = readTimeout, idleTimeout

	logger := promslog.New(logCfg)
	logger.Info("starting "+name, "version", version.Info())
	handler, closeAll, err := newHandler(cfg, logger)
	if err != nil {
		logger.Error("bad configuration", "err", err)
		os.Exit(1)
	}
	defer closeAll()
	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, handler)
	if cfg.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        strings.ReplaceAll(name, "_", " "),
			Description: "Prometheus exporter of Linux's IP Virtual Server tables",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: cfg.metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			os.Exit(1)
		}
		mux.Handle("/", landing)
	}
	if err := web.ListenAndServe(newServer(cfg, mux), webFlags, logger); err != nil {
		logger.Error("serving", "err", err)
		os.Exit(1)
	}
}

// newServer returns the server of handler, which bounds what each
// connection may take: time to send its request, headers' size, time
// idle between requests, and time to read an answer (a scrape's own
// deadline comes first; this bounds the landing page too).
func newServer(cfg config, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.readTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.timeout + time.Second,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// newHandler builds the registry of one Collector per namespace (and the
// exporter's own metrics) and its HTTP handler; closeAll releases the
// namespaces' clients.
func newHandler(cfg config, logger *slog.Logger) (http.Handler, func(), error) {
	namespaces, err := parseNamespaces(cfg.namespaces)
	if err != nil {
		return nil, nil, err
	}
	opts, err := collectorOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	var cs []*collector.Collector
	var dialers []*collector.Dialer
	closeAll := func() {
		for _, d := range dialers {
			_ = d.Close()
		}
	}
	for _, ns := range namespaces {
		d := collector.NewDialer(ns.config())
		dialers = append(dialers, d)
		c, err := collector.New(d, append(opts, collector.WithNetNS(ns.label), collector.WithLogger(logger.With("netns", ns.label)))...)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("netns %q: %w", ns.label, err)
		}
		cs = append(cs, c) // not registered: see collector.Handler
	}
	return metricsHandler(cfg, cs, logger), closeAll, nil
}

// metricsHandler serves the Collectors, after the exporter's own metrics
// unless the configuration leaves them out.
func metricsHandler(cfg config, cs []*collector.Collector, logger *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	handler := collector.Handler(reg, collector.HandlerOpts{MaxRequestsInFlight: cfg.maxRequests,
		Timeout: cfg.timeout, TimeoutOffset: cfg.timeoutOffset, Logger: logger}, cs...)
	if !cfg.disableExporterMetrics {
		reg.MustRegister(
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewGoCollector(),
			versioncollector.NewCollector(name, versioncollector.WithExtraConstLabels(prometheus.Labels{"build_date": version.BuildDate})),
		)
		handler = promhttp.InstrumentMetricHandler(reg, handler)
	}
	return handler
}

// collectorOptions turns the command line into the Collector's options.
func collectorOptions(cfg config) ([]collector.Option, error) {
	if cfg.maxRequests < 1 {
		return nil, fmt.Errorf("--web.max-requests %d: must be at least 1", cfg.maxRequests)
	}
	if cfg.timeoutOffset < 0 {
		return nil, fmt.Errorf("--scrape.timeout-offset %v: must not be negative", cfg.timeoutOffset)
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("--scrape.timeout %v: must be positive", cfg.timeout)
	}
	opts := []collector.Option{collector.WithTimeout(cfg.timeout)}
	if !cfg.destinations {
		opts = append(opts, collector.WithoutDestinations())
	}
	if cfg.labels != "" {
		var names []string
		for n := range strings.SplitSeq(cfg.labels, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		opts = append(opts, collector.WithLabels(names...))
	}
	var include, exclude *regexp.Regexp
	for _, re := range []struct {
		flag, expr string
		dst        **regexp.Regexp
	}{{"collector.services.include", cfg.include, &include}, {"collector.services.exclude", cfg.exclude, &exclude}} {
		if re.expr == "" {
			continue
		}
		r, err := regexp.Compile(re.expr)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", re.flag, re.expr, err)
		}
		*re.dst = r
	}
	if include != nil || exclude != nil {
		opts = append(opts, collector.WithServiceFilter(include, exclude))
	}
	if cfg.rates {
		opts = append(opts, collector.WithRates())
	}
	if cfg.states {
		opts = append(opts, collector.WithConnectionStates())
	}
	return opts, nil
}
