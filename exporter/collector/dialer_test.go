package collector

import (
	"context"
	"errors"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestDialerFailsUntilClosed uses a namespace that does not exist: every
// read fails with the dial's error, and after Close with errDialerClosed.
func TestDialerFailsUntilClosed(t *testing.T) {
	d := NewDialer(&ipvs.Config{NetNSPath: "/nonexistent/netns"})
	ctx := context.Background()
	reads := map[string]func() error{
		"VirtualServers":   func() error { _, err := d.VirtualServers(ctx); return err },
		"Info":             func() error { _, err := d.Info(ctx); return err },
		"Timeouts":         func() error { _, err := d.Timeouts(ctx); return err },
		"Daemons":          func() error { _, err := d.Daemons(ctx); return err },
		"ConnectionStates": func() error { _, err := d.ConnectionStates(ctx, ipvs.ConnectionFilter{}); return err },
	}
	for name, read := range reads {
		if err := read(); err == nil || errors.Is(err, errDialerClosed) {
			t.Errorf("%s: error %v, want the dial's", name, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for name, read := range reads {
		if err := read(); !errors.Is(err, errDialerClosed) {
			t.Errorf("%s after Close: error %v, want %v", name, err, errDialerClosed)
		}
	}
}
