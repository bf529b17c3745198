// Package cli parses ipvsadm 1.31's command line, with its defaults and its
// refusals of invalid combinations, into a Command.
package cli

import (
	"fmt"

	"github.com/ipvs-go/ipvs"
)

// Format are the listing flags (ipvsadm's FMT_*).
type Format uint

// Possible Format values.
const (
	FmtNumeric Format = 1 << iota
	FmtRule
	FmtStats
	FmtRate
	FmtThresholds
	FmtPersistentConn
	FmtNoSort
	FmtExact
	FmtTunInfo
)

// Output is how a listing is printed.
type Output uint8

// Possible Output values.
const (
	OutputText Output = iota
	OutputJSON
	OutputYAML
)

// Command is one parsed command line.
type Command struct {
	Cmd    Cmd
	Format Format
	// Options has bit i set for ipvsadm's option i (OPTC_*); Has tests it.
	Options uint64

	// Service names the service, and holds its settings for -A and -E.
	// HasService tells whether the line named one.
	Service    ipvs.Service
	HasService bool
	// Dest is the destination of -a, -e and -d.
	Dest ipvs.Destination
	// Timeouts are the values of --set.
	Timeouts ipvs.Timeouts
	// Daemon is the daemon of --start-daemon and --stop-daemon.
	Daemon ipvs.Daemon

	// Output, Pretty, NetNS, DryRun, Flush and FlushConntrack are
	// ipvsctl's own options.
	Output Output
	Pretty bool
	NetNS  string
	DryRun bool
	Flush  bool
	// FlushConntrack deletes the conntrack entries of the destinations
	// that -d, -R or apply removes (see ipvs.Client.FlushConntrack).
	FlushConntrack bool
}

// Connections reports whether the listing is of connections (-c).
func (c *Command) Connections() bool { return c.Options&(1<<optConnection) != 0 }

// ListTimeout reports whether the listing is of timeouts (--timeout).
func (c *Command) ListTimeout() bool { return c.Options&(1<<optTimeout) != 0 }

// ListDaemon reports whether the listing is of daemons (--daemon).
func (c *Command) ListDaemon() bool { return c.Options&(1<<optDaemon) != 0 }

// ExitError is a refusal of a command line, with ipvsadm's message and exit
// status: 2 for a refused value or combination, 255 for a line popt could
// not read (TryHelp: the message is then ipvsadm's pointer to -h).
type ExitError struct {
	Code    int
	Msg     string
	TryHelp bool
}

func (e *ExitError) Error() string { return e.Msg }

// fail is ipvsadm's fail(2, ...).
func fail(format string, args ...any) *ExitError {
	return &ExitError{Code: 2, Msg: fmt.Sprintf(format, args...)}
}

// TryHelp is the message ipvsadm prints for a line it cannot read.
func TryHelp(program string) string {
	return fmt.Sprintf("Try `%s -h' or '%s --help' for more information.", program, program)
}
