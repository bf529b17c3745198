//go:build !linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
)

// Connections fails: the connection table is Linux's procfs.
func (c *Client) Connections(ctx context.Context, f ConnectionFilter) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		yield(Connection{}, errConnectionsUnsupported())
	}
}

// ConnectionStates fails: the connection table is Linux's procfs.
func (c *Client) ConnectionStates(ctx context.Context, f ConnectionFilter) (map[string]int, error) {
	return nil, errConnectionsUnsupported()
}

func errConnectionsUnsupported() error {
	return fmt.Errorf("the IPVS connection table is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
