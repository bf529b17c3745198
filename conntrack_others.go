//go:build !linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// FlushConntrack fails: conntrack is Linux's netfilter.
func (c *Client) FlushConntrack(ctx context.Context, filters ...ConntrackFilter) (int, error) {
	return 0, &Error{Op: opFlushConntrack, Err: fmt.Errorf("conntrack is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)}
}
