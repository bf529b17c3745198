//go:build integration && linux

package exporter_test

import (
	"context"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/exporter/collector"
)

// TestKernelScrapeTotals runs TCP traffic through a service, removes the
// service, and scrapes the namespace's totals: they still count its
// traffic, and equal, rates included, the library's Totals, which
// TestKernelTotals in the root compares with /proc/net/ip_vs_stats, on
// every path (a registry, WriteText, the ipvs_exporter binary).
func TestKernelScrapeTotals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	director, c, svc := balance(ctx, t)
	var counted ipvs.Stats
	settled := settle(func() bool {
		s, err := c.Service(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		counted = withoutRates(s.Stats)
		return counted.Connections == conns && withoutRates(totals(ctx, t, c)) == counted
	})
	if !settled {
		t.Fatalf("the service's counters %+v and the totals did not settle", counted)
	}
	if err := c.RemoveService(ctx, svc); err != nil {
		t.Fatal(err)
	}

	url := serve(t, c, collector.WithRates(), collector.WithNetNS("director"))
	binary := startExporter(t, director)
	settled = settle(func() bool {
		before := totals(ctx, t, c)
		registry, written := scrape(t, url+"/metrics"), scrape(t, url+"/text")
		var fromBinary scraped
		if binary != "" {
			fromBinary = scrape(t, binary+"/metrics")
		}
		if after := totals(ctx, t, c); after != before {
			return false
		}
		if withoutRates(before) != counted {
			t.Fatalf("after the service's removal the totals are %+v, want its counters %+v", before, counted)
		}
		for _, got := range []struct {
			source string
			s      ipvs.Stats
		}{{"scraped", registry.totals}, {"scraped through WriteText", written.totals}} {
			if got.s != before {
				t.Errorf("%s: %+v, the library's Totals %+v", got.source, got.s, before)
			}
		}
		// ipvs_exporter runs without --collector.rates.
		if binary != "" && fromBinary.totals != withoutRates(before) {
			t.Errorf("scraped from ipvs_exporter: %+v, the library's Totals %+v", fromBinary.totals, before)
		}
		return true
	})
	if !settled {
		t.Fatal("the totals did not settle between two reads")
	}
}

func totals(ctx context.Context, t *testing.T, c *ipvs.Client) ipvs.Stats {
	t.Helper()
	s, err := c.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withoutRates returns the five counters of s.
func withoutRates(s ipvs.Stats) ipvs.Stats {
	return ipvs.Stats{Connections: s.Connections, InPackets: s.InPackets, OutPackets: s.OutPackets, InBytes: s.InBytes, OutBytes: s.OutBytes}
}
