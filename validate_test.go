package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestClientValidation checks that bad input is refused before anything
// is sent, with an error naming the field and the value.
func TestClientValidation(t *testing.T) {
	ctx := context.Background()
	long := "abcdefghijklmnop" // 16 bytes
	tests := []struct {
		name, want string
		call       func(c *Client) error
	}{
		{"no identity", "invalid service: has neither fwmark nor address", func(c *Client) error {
			return c.CreateService(ctx, Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Scheduler: "rr"})
		}},
		{"no family", "invalid service: needs a family", func(c *Client) error { return c.RemoveService(ctx, Service{FWMark: 1}) }},
		{"fwmark and address", "has fwmark 3 and also", func(c *Client) error {
			return c.RemoveService(ctx, Service{FWMark: 3, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1")})
		}},
		{"family mismatch", "invalid service address: 2001:db8::1 does not match family ipv4", func(c *Client) error {
			return c.RemoveService(ctx, Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("2001:db8::1")})
		}},
		{"unknown protocol", "invalid service protocol: proto(200) is not tcp, udp or sctp", func(c *Client) error {
			return c.CreateService(ctx, Service{Protocol: 200, Address: netip.MustParseAddr("10.0.0.1"), Scheduler: "rr"})
		}},
		{"long scheduler", `invalid service scheduler: "abcdefghijklmnop" is 16 bytes, longer than 15`, func(c *Client) error {
			s := tcp4
			s.Scheduler = long
			return c.CreateService(ctx, s)
		}},
		{"long pe", `invalid service persistence engine: "abcdefghijklmnop" is 16 bytes`, func(c *Client) error {
			s := tcp4
			s.PersistenceEngine = long
			return c.CreateService(ctx, s)
		}},
		{"empty scheduler", "invalid service scheduler: is empty", func(c *Client) error {
			s := tcp4
			s.Scheduler = ""
			return c.CreateService(ctx, s)
		}},
		{"ipv6 prefix 0", "invalid service netmask: prefix length 0 is outside 1..128", func(c *Client) error {
			s := udp6
			s.Netmask = PrefixMask(0)
			return c.CreateService(ctx, s)
		}},
		{"ipv6 prefix 129", "invalid service netmask: prefix length 129 is outside 1..128", func(c *Client) error {
			s := udp6
			s.Netmask = PrefixMask(129)
			return c.CreateService(ctx, s)
		}},
		{"ipv4 prefix 33", "invalid service netmask: prefix length 33 is outside 0..32", func(c *Client) error {
			s := tcp4
			s.Netmask = PrefixMask(33)
			return c.CreateService(ctx, s)
		}},
		{"fractional timeout", "invalid service timeout: 1.5s is not a whole number of seconds", func(c *Client) error {
			s := tcp4
			s.Timeout = 1500 * time.Millisecond
			return c.CreateService(ctx, s)
		}},
		{"weight", "invalid destination weight: 2147483648 is more than 2147483647", func(c *Client) error {
			d := masq4
			d.Weight = 1 << 31
			return c.CreateDestination(ctx, tcp4, d)
		}},
		{"upper threshold", "invalid destination upper threshold: 4294967295 is more than", func(c *Client) error {
			d := masq4
			d.UpperThreshold, d.LowerThreshold = 1<<32-1, 0
			return c.CreateDestination(ctx, tcp4, d)
		}},
		{"inverted thresholds", "invalid destination lower threshold: 10 is above the upper threshold 0", func(c *Client) error {
			d := masq4
			d.LowerThreshold = 10
			return c.UpdateDestination(ctx, tcp4, d)
		}},
		{"gue without port", "invalid destination tunnel port: is 0, and a GUE tunnel needs one", func(c *Client) error {
			return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("10.0.0.3"), Forward: ForwardTunnel, TunnelType: TunnelGUE})
		}},
		{"mixed family masq", "invalid destination family: ipv6 differs from the service's ipv4", func(c *Client) error {
			return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("2001:db8::3"), Forward: ForwardMasquerade})
		}},
		{"no destination address", "invalid destination address: is not set", func(c *Client) error {
			return c.RemoveDestination(ctx, tcp4, Destination{Port: 80})
		}},
		{"daemon state", "invalid daemon state: state(3) is not master or backup", func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: 3, Interface: "eth0"})
		}},
		{"stop daemon state", "invalid daemon state: state(0) is not master or backup", func(c *Client) error {
			return c.StopDaemon(ctx, 0)
		}},
		{"long interface", `invalid daemon interface: "abcdefghijklmnop" is 16 bytes, longer than 15`, func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: long})
		}},
		{"group not multicast", "invalid daemon group: 10.0.0.1 is not a multicast address", func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: "eth0", Group: netip.MustParseAddr("10.0.0.1")})
		}},
		{"negative timeout", "invalid UDP timeout: -1s is negative", func(c *Client) error {
			return c.SetTimeouts(ctx, Timeouts{UDP: -time.Second})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, answer)
			err := tt.call(testClient(t, k))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, os.ErrInvalid) {
				t.Errorf("errors.Is(err, os.ErrInvalid) is false")
			}
			if n := len(k.Recorded()); n != 0 {
				t.Errorf("sent %d requests for invalid input", n)
			}
		})
	}
}

// TestValidateMatchesClient: Validate returns the very *InvalidError that
// CreateService and CreateDestination wrap before sending, and nil for
// what they send.
func TestValidateMatchesClient(t *testing.T) {
	ctx := context.Background()
	longPE := tcp4
	longPE.PersistenceEngine = "abcdefghijklmnop"
	noSched := tcp4
	noSched.Scheduler = ""
	frac := udp6
	frac.Timeout = 1500 * time.Millisecond
	mapped := Service{Protocol: ProtocolTCP, Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 80, Scheduler: "rr"}
	for _, svc := range []Service{tcp4, udp6, mapped, longPE, noSched, frac, {Family: FamilyIPv4, Scheduler: "rr"}} {
		k := newFakeKernel(t, answer)
		checkSame(t, svc.String(), svc.Validate(), testClient(t, k).CreateService(ctx, svc))
	}
	weight := masq4
	weight.Weight = 1 << 31
	gue := Destination{Address: netip.MustParseAddr("10.0.0.3"), Forward: ForwardTunnel, TunnelType: TunnelGUE}
	six := Destination{Address: netip.MustParseAddr("2001:db8::3"), Forward: ForwardMasquerade}
	for _, svc := range []Service{tcp4, {FWMark: 1}} {
		for _, d := range []Destination{masq4, weight, gue, six, {Port: 80}} {
			k := newFakeKernel(t, answer)
			checkSame(t, d.String()+" of "+svc.String(), d.Validate(svc.Key()), testClient(t, k).CreateDestination(ctx, svc, d))
		}
	}
}

func checkSame(t *testing.T, what string, validated, sent error) {
	t.Helper()
	var ie *InvalidError
	switch {
	case validated == nil && sent != nil:
		t.Errorf("%s: Validate passes, the client refuses: %v", what, sent)
	case validated == nil:
	case !errors.As(sent, &ie) || *ie != *validated.(*InvalidError):
		t.Errorf("%s: Validate says %v (%T), the client %v", what, validated, validated, sent)
	}
}

// TestVirtualServerValidate: the batch check returns the *Error the first
// refused write of the table would: the same operation, object and cause.
func TestVirtualServerValidate(t *testing.T) {
	ctx := context.Background()
	weight := masq4
	weight.Weight = 1 << 31
	noSched := tcp4
	noSched.Scheduler = ""
	for _, vs := range []VirtualServer{
		{Service: tcp4, Destinations: []Destination{masq4}},
		{Service: noSched, Destinations: []Destination{masq4}},
		{Service: tcp4, Destinations: []Destination{masq4, weight}},
	} {
		var sent error
		k := newFakeKernel(t, answer)
		c := testClient(t, k)
		if sent = c.CreateService(ctx, vs.Service); sent == nil {
			for _, d := range vs.Destinations {
				if sent = c.CreateDestination(ctx, vs.Service, d); sent != nil {
					break
				}
			}
		}
		got := vs.Validate()
		if (got == nil) != (sent == nil) || got != nil && got.Error() != sent.Error() {
			t.Errorf("%v: Validate says %v, the client %v", vs.Service, got, sent)
		}
		var ie *InvalidError
		if got != nil && !errors.As(got, &ie) {
			t.Errorf("%v: %v wraps no *InvalidError", vs.Service, got)
		}
	}
}

// TestLimitsRefusedBeforeSending: values the kernel would refuse or
// silently change never reach it.
func TestLimitsRefusedBeforeSending(t *testing.T) {
	k := newFakeKernel(t, answer)
	c := testClient(t, k)
	ctx := context.Background()
	long := tcp4
	long.Timeout = MaxPersistenceTimeout + time.Second
	for _, err := range []error{
		c.CreateService(ctx, long),
		c.SetTimeouts(ctx, Timeouts{TCP: MaxTimeout + time.Second}),
		c.SetTimeouts(ctx, Timeouts{UDP: 1 << 31 * time.Second}),
		c.CreateDestination(ctx, tcp4, Destination{Address: netip.IPv4Unspecified(), Forward: ForwardMasquerade}),
		c.CreateDestination(ctx, fwm4, Destination{Address: netip.IPv4Unspecified(), Forward: ForwardDirectRoute}),
	} {
		var ie *InvalidError
		if !errors.As(err, &ie) {
			t.Errorf("got %v, want an *InvalidError", err)
		}
	}
	ok := tcp4
	ok.Timeout = MaxPersistenceTimeout
	if err := c.CreateService(ctx, ok); err != nil {
		t.Errorf("the longest persistence timeout: %v", err)
	}
	if n := len(k.Recorded()); n != 1 {
		t.Errorf("%d requests sent, want only the valid one", n)
	}
	if _, err := c.Apply(ctx, nil); err == nil {
		t.Error("Apply accepted a nil batch")
	}
}
