package check_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// A scheduler runs one probe for the identical checks of two virtual
// servers, and says when the health of a check changes.
func ExampleScheduler() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	defer backend.Close()
	target := backend.Listener.Addr().(*net.TCPAddr).AddrPort()

	web := check.Definition{Kind: check.KindHTTP, Target: target, Interval: time.Second,
		HTTP: check.HTTPCheck{Path: "/healthz", Regex: "^ok"}}
	alsoWeb := web // the same real server under another virtual server
	s := check.NewScheduler(check.Options{})
	if err := s.Set([]check.Definition{web, alsoWeb}); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	<-s.Changes()
	st, _ := s.Status(web.Key())
	fmt.Println(len(s.Statuses()), "check:", st.Health, st.Last.Err)
	cancel()
	<-done
	// Output: 1 check: up <nil>
}

// Validate names the field at fault.
func ExampleValidate() {
	err := check.Validate(check.Definition{Kind: check.KindHTTP,
		Target: netip.MustParseAddrPort("192.0.2.1:80"),
		HTTP:   check.HTTPCheck{Status: []check.StatusRange{{Min: 200, Max: 200}, {Min: 700, Max: 799}}}})
	fmt.Println(err)
	// Output: check: http.status[1] "700-799": not a range of codes within 100–599
}
