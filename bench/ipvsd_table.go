//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	lib "github.com/ipvs-go/ipvs"
)

// ipvsdTable reads the table the daemon directs.
type ipvsdTable interface {
	// weight returns the weight of the real server target of virtual
	// server i, or -1 when it is not in the table.
	weight(i int, target string) (int, error)
	// present counts the real servers of virtual server i in the table.
	present(i int) (int, error)
}

// errNotYet is the error of a table that can not be read yet.
var errNotYet = errors.New("not yet")

// ipvsdKernelTable reads the kernel's table.
type ipvsdKernelTable struct{ c *lib.Client }

func (k ipvsdKernelTable) weight(i int, target string) (int, error) {
	ds, err := k.c.Destinations(context.Background(), libSvc(i))
	if err != nil {
		return 0, err
	}
	if j := slices.IndexFunc(ds, func(d lib.Destination) bool { return d.String() == target }); j >= 0 {
		return int(ds[j].Weight), nil
	}
	return -1, nil
}

func (k ipvsdKernelTable) present(i int) (int, error) {
	ds, err := k.c.Destinations(context.Background(), libSvc(i))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return len(ds), err
}

// ipvsdAPITable reads the table the daemon's API shows.
type ipvsdAPITable struct{ c *http.Client }

// ipvsdStatus is what the suite reads of the API's status.
type ipvsdStatus struct {
	Sync struct{ Changes uint64 }
}

type ipvsdVirtualServer struct {
	Real []struct {
		Address string
		Actual  *struct{ Weight uint32 }
	} `json:"real_servers"`
}

func (a ipvsdAPITable) weight(i int, target string) (int, error) {
	var vs ipvsdVirtualServer
	if err := getJSON(a.c, fmt.Sprintf("/api/v1/virtual-servers/vs%d", i), &vs); err != nil {
		return 0, err
	}
	for _, rs := range vs.Real {
		if rs.Address == target && rs.Actual != nil {
			return int(rs.Actual.Weight), nil
		}
	}
	return -1, nil
}

func (a ipvsdAPITable) present(i int) (int, error) {
	var vs ipvsdVirtualServer
	if err := getJSON(a.c, fmt.Sprintf("/api/v1/virtual-servers/vs%d", i), &vs); err != nil {
		return 0, fmt.Errorf("%w: %v", errNotYet, err)
	}
	n := 0
	for _, rs := range vs.Real {
		if rs.Actual != nil {
			n++
		}
	}
	return n, nil
}

// ipvsdAPI returns a client of the daemon's API on the unix socket sock.
func ipvsdAPI(sock string) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

// getJSON gets path from the API and decodes it into v.
func getJSON(c *http.Client, path string, v any) error {
	resp, err := c.Get("http://ipvsd" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitWeight polls the real server target of virtual server i until
// ok(weight) holds, the weight being -1 when it is not in the table, for
// a minute at most, every 10 ms: the resolution of the times measured.
func waitWeight(t ipvsdTable, i int, target string, ok func(int) bool) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w, err := t.weight(i, target)
		if err != nil {
			return err
		}
		if ok(w) {
			return nil
		}
	}
	return errors.New("not within a minute")
}

// ipvsdChanges returns the writes the daemon has made, from its API.
func ipvsdChanges(c *http.Client) (uint64, error) {
	var s ipvsdStatus
	err := getJSON(c, "/api/v1/status?table=false", &s)
	return s.Sync.Changes, err
}
