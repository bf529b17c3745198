//go:build !linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// Sysctls fails: the IPVS sysctls are Linux's.
func (c *Client) Sysctls(ctx context.Context) (Sysctls, error) {
	return Sysctls{}, errSysctlsUnsupported()
}

// SetSysctls fails: the IPVS sysctls are Linux's.
func (c *Client) SetSysctls(ctx context.Context, ch SysctlChanges) error {
	return errSysctlsUnsupported()
}

func errSysctlsUnsupported() error {
	return fmt.Errorf("the IPVS sysctls are not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
