// Command memoryd runs ipvsd's daemon on an in-memory IPVS (package
// ipvstest's model, behind a real client) instead of the kernel's, so
// that the benchmark can measure the daemon at full scale on a machine
// without IPVS, or whose emulated kernel can not keep up with the
// checks. It takes the flags of "ipvsd run" that apply.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipvs-go/ipvs/ipvsd/daemon"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// listenFlags collects the repeated --web.listen-address.
type listenFlags []string

func (l *listenFlags) String() string     { return fmt.Sprint(*l) }
func (l *listenFlags) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var cfg daemon.Config
	var listen listenFlags
	flag.StringVar(&cfg.ConfigFile, "config.file", "ipvsd.yaml", "the configuration file")
	flag.StringVar(&cfg.StateDir, "state.dir", "state", "the state directory")
	flag.Var(&listen, "web.listen-address", "where the API listens, repeatable")
	flag.BoolVar(&cfg.Watch, "config.watch", true, "reload the configuration when its file changes (false: on SIGHUP only)")
	flag.Parse()
	cfg.Listen = listen
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := ipvstest.NewFake().NewClient()
	if err == nil {
		defer client.Close()
		err = daemon.Run(ctx, cfg, client)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memoryd:", err)
		os.Exit(1)
	}
}
