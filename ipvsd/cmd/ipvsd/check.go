package main

import (
	"fmt"
	"io"

	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// checkConfig validates the file at path and says what it holds.
func checkConfig(path string, stdout, stderr io.Writer) int {
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	reals, checks := 0, 0
	probes := map[check.Key]bool{}
	for i := range c.VirtualServers {
		for _, b := range c.VirtualServers[i].Backends() {
			reals++
			for _, d := range b.Checks {
				checks++
				probes[d.Key()] = true
			}
		}
	}
	fmt.Fprintf(stdout, "%s: %d virtual servers, %d real servers, %d checks (%d distinct, each probed once): valid\n",
		path, len(c.VirtualServers), reals, checks, len(probes))
	return 0
}
