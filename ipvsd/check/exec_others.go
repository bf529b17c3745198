//go:build !unix

package check

import "context"

// probeExec fails: process groups are Unix's.
func (s *spec) probeExec(context.Context) Outcome { return Outcome{Err: ErrUnsupported} }
