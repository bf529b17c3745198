package ipvstest_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// genltestClient serves fn as the IPVS family through genltest, as
// cloudflare/ipvs's tests do, and returns a client of it.
func genltestClient(t *testing.T, fn genltest.Func) *ipvs.Client {
	t.Helper()
	family := genetlink.Family{ID: 0x24, Version: 1, Name: "IPVS"}
	c, err := ipvstest.NewGenltestClient(genltest.Dial(genltest.ServeFamily(family, fn)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serviceAttrs is a service nest as the kernel sends it, without the
// command a test's function leaves out.
func serviceAttrs(addr byte) []byte {
	return nltest.MustMarshalAttributes([]netlink.Attribute{{Type: 1, Data: nltest.MustMarshalAttributes([]netlink.Attribute{
		{Type: 1, Data: []byte{2, 0}}, // AF_INET
		{Type: 2, Data: []byte{6, 0}}, // TCP
		{Type: 3, Data: []byte{10, 0, 0, addr, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{Type: 4, Data: []byte{0, 80}},
		{Type: 6, Data: []byte("rr\x00")},
		{Type: 7, Data: make([]byte, 8)},
		{Type: 8, Data: make([]byte, 4)},
		{Type: 9, Data: []byte{255, 255, 255, 255}},
	})}})
}

func TestGenltestClient(t *testing.T) {
	ctx := context.Background()
	var requests []genetlink.Message
	c := genltestClient(t, func(req genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		requests = append(requests, req)
		switch req.Header.Command {
		case 4: // GET_SERVICE, dumped: two services
			return []genetlink.Message{{Data: serviceAttrs(1)}, {Data: serviceAttrs(2)}}, nil
		case 8: // GET_DEST: none, said as genltest wants it said
			return nil, io.EOF
		case 1: // NEW_SERVICE: a bare header stands for the ACK
			return []genetlink.Message{{}}, nil
		case 3: // DEL_SERVICE
			return nil, genltest.Error(int(syscall.ESRCH))
		}
		return nil, errors.New("unexpected request")
	})
	svcs, err := c.Services(ctx)
	if err != nil || len(svcs) != 2 || svcs[1].Address != netip.MustParseAddr("10.0.0.2") || svcs[1].Scheduler != "rr" {
		t.Fatalf("Services = %+v, %v", svcs, err)
	}
	if dests, err := c.Destinations(ctx, svcs[0]); err != nil || len(dests) != 0 {
		t.Errorf("Destinations = %v, %v; want none", dests, err)
	}
	if err := c.CreateService(ctx, svcs[0]); err != nil {
		t.Errorf("CreateService: %v", err)
	}
	if err := c.RemoveService(ctx, svcs[0]); !errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.ESRCH) {
		t.Errorf("RemoveService: %v, want ESRCH", err)
	}
	if err := c.Flush(ctx); err == nil {
		t.Error("Flush: no error from a function that refused it")
	}
	if len(requests) != 5 || requests[2].Header.Command != 1 || requests[2].Header.Version != 1 {
		t.Errorf("the function saw %+v", requests)
	}
}
