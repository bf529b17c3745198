package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// errNoDaemon is the error of an API that no daemon answers.
var errNoDaemon = errors.New("no ipvsd answers")

// apiClient returns an HTTP client of the API at addr (unix:PATH, or a
// URL) and the base URL of its requests.
func apiClient(addr string) (*http.Client, string) {
	c := &http.Client{Timeout: time.Minute}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		c.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
		return c, "http://ipvsd"
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return c, strings.TrimSuffix(addr, "/")
}

// planFromDaemon asks the daemon at addr for the plan of the
// configuration data (read from file); errNoDaemon if none answers.
func planFromDaemon(ctx context.Context, addr, file string, data []byte) (*director.PlanReport, error) {
	c, base := apiClient(addr)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/plan?source="+url.QueryEscape(file), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, errNoDaemon
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var p director.PlanReport
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the daemon's plan: %w", err)
	}
	return &p, nil
}
