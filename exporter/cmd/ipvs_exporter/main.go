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
	disableExporterMetrics bool
}

func main() {
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
	app.Flag("scrape.timeout", "Longest time one scrape of one namespace may take.").Default(collector.DefaultTimeout.String()).
		DurationVar(&cfg.timeout)
	webFlags := kingpinflag.AddFlags(app, ":9778")
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(os.Args[1:]))

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
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := web.ListenAndServe(server, webFlags, logger); err != nil {
		logger.Error("serving", "err", err)
		os.Exit(1)
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
	reg := prometheus.NewRegistry()
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
		cs = append(cs, c) // not registered: see textHandler
	}
	var handler http.Handler = textHandler{reg: reg, cs: cs, logger: logger}
	if !cfg.disableExporterMetrics {
		reg.MustRegister(
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewGoCollector(),
			versioncollector.NewCollector(name),
		)
		handler = promhttp.InstrumentMetricHandler(reg, handler)
	}
	return handler, closeAll, nil
}

// collectorOptions turns the command line into the Collector's options.
func collectorOptions(cfg config) ([]collector.Option, error) {
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
