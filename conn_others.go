//go:build !linux

package ipvs

import (
	"errors"
	"fmt"
	"runtime"
)

// newClient fails: IPVS is Linux's.
func newClient(*Config) (*Client, error) {
	return nil, fmt.Errorf("IPVS is not available on %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}
