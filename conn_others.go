//go:build !linux

package ipvs

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/ipvs-go/ipvs/internal/seam"
)

// newClient fails: IPVS is Linux's.
func newClient(*Config) (*Client, error) {
	return nil, fmt.Errorf("IPVS is not available on %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// dialNetfilter fails: netfilter is Linux's.
func dialNetfilter() (seam.Socket, error) {
	return nil, fmt.Errorf("netfilter netlink is not available on %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}
