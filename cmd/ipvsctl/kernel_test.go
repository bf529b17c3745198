package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestReadKernelStreams: the table readKernel builds as the library
// yields it, across more than one arena of destinations and with
// services without any, holds each service and destination of the whole
// read.
func TestReadKernelStreams(t *testing.T) {
	var rules strings.Builder
	for i := range 600 {
		fmt.Fprintf(&rules, "-A -t 10.0.%d.%d:80 -s wlc\n", i/250, i%250+1)
		for j := range i % 17 {
			fmt.Fprintf(&rules, "-a -t 10.0.%d.%d:80 -r 10.1.%d.%d:8080 -m -w %d\n", i/250, i%250+1, j, i%250+1, j)
		}
	}
	f := ipvstest.NewFake()
	mustCtl(t, f, rules.String(), "-R")
	c, err := f.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := newEnv(context.Background(), "ipvsctl", nil, nil, io.Discard)
	e.client = c
	got, err := e.readKernel()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := c.VirtualServers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.services) != len(vs) || got.objects < heldArena {
		t.Fatalf("read %d services, %d objects; want %d services, more than one arena (%d)", len(got.services), got.objects, len(vs), heldArena)
	}
	for i := range vs {
		svc := vs[i].Service
		svc.Stats = ipvs.Stats{}
		if got.services[i] != svc {
			t.Fatalf("service %d: read %+v, want %+v", i, got.services[i], svc)
		}
		want := make([]held, len(vs[i].Destinations))
		for j := range vs[i].Destinations {
			d := &vs[i].Destinations[j]
			want[j] = held{destOf(d, svc.Key(), 0), d.ActiveConnections, d.InactiveConnections, d.PersistentConnections}
		}
		if !slices.Equal(got.dests[i], want) {
			t.Errorf("destinations of %v: read %+v, want %+v", svc, got.dests[i], want)
		}
	}
}
