package ipvs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Error is the error of a Client operation: the kernel's, a refusal to
// send bad input, a cancelled context or a malformed reply.
//
// Kernel errors are matchable with errors.Is: "no such service" (ESRCH),
// "no such destination" and "no such scheduler" (ENOENT) as
// os.ErrNotExist, duplicates (EEXIST) as os.ErrExist, a missing
// capability (EPERM, EACCES) as os.ErrPermission. The errno itself stays
// reachable: errors.Is(err, syscall.ESRCH), or errors.As into a
// syscall.Errno.
type Error struct {
	// Op is the operation, such as "create service".
	Op string
	// Object names what it was applied to, such as "tcp 10.0.0.1:80";
	// empty for operations on the whole table.
	Object string
	// Err is the cause: a syscall.Errno from the kernel, an
	// *InvalidError, a context error, or a protocol error.
	Err error
	// Message is the kernel's extended acknowledgement message, if any.
	// IPVS sets one only for policy violations in the daemon nest and in
	// top-level attributes.
	Message string
}

// Error returns "ipvs: OP OBJECT: CAUSE", where a kernel errno is spelled
// with the meaning it has for that operation, as ipvsadm spells it.
func (e *Error) Error() string {
	s := "ipvs: " + e.Op
	if e.Object != "" {
		s += " " + e.Object
	}
	// Only an errno the kernel returned for this operation gets its
	// meaning spelled out; one deeper in a chain speaks for itself.
	if errno, ok := e.Err.(syscall.Errno); ok {
		if m := errnoMeaning(e.Op, errno); m != "" {
			s += ": " + m + " (" + errno.Error() + ")"
		} else {
			s += ": " + errno.Error()
		}
	} else {
		s += ": " + e.Err.Error()
	}
	if e.Message != "" {
		s += ": kernel says: " + e.Message
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is maps the errnos that syscall.Errno does not map itself: ESRCH, which
// IPVS returns for a missing service or daemon, and ENODEV, for a missing
// interface, are os.ErrNotExist.
func (e *Error) Is(target error) bool {
	var errno syscall.Errno
	if target != os.ErrNotExist || !errors.As(e.Err, &errno) {
		return false
	}
	return errno == syscall.ESRCH || errno == syscall.ENODEV
}

// InvalidError reports input that the client refused to send, because the
// kernel would refuse it or silently mangle it. It matches os.ErrInvalid.
type InvalidError struct {
	// Field names the field, such as "service scheduler".
	Field string
	// Reason says what is wrong with its value, quoting the value.
	Reason string
}

// Error returns "invalid FIELD: REASON".
func (e *InvalidError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Is reports whether target is os.ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == os.ErrInvalid }

func invalidf(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrNoIPVS is returned by New when the kernel has no IPVS Generic Netlink
// family: the ip_vs module is not loaded and could not be loaded on
// demand, or the kernel was built without it. The library never runs
// modprobe itself. An error matching it also matches os.ErrNotExist.
var ErrNoIPVS = errors.New("the kernel has no IPVS generic netlink family (is the ip_vs module loaded?)")

// ErrDumpInterrupted is the error of a dump that the kernel marked with
// NLM_F_DUMP_INTR: the table changed while it was read, and the result
// may have skipped or repeated entries; read it again. (IPVS has never
// been seen to set the mark: it does not check its dumps' consistency.)
var ErrDumpInterrupted = errors.New("dump interrupted by a concurrent change (NLM_F_DUMP_INTR); read it again")

// errnoMeaning spells an errno as it reads for op, after libipvs's
// ipvs_strerror table, so that "not found" says what was not found; ""
// when the errno's own text says it all.
func errnoMeaning(op string, errno syscall.Errno) string {
	switch errno {
	case syscall.ESRCH:
		switch op {
		case opStopDaemon:
			return "no daemon of that state is running"
		case opCreateDest, opUpdateDest, opRemoveDest, opDests:
			return "service not defined"
		}
		return "no such service"
	case syscall.ENOENT:
		switch op {
		case opCreateService, opUpdateService:
			return "scheduler or persistence engine not found"
		case opUpdateDest, opRemoveDest:
			return "no such destination"
		}
	case syscall.EEXIST:
		switch op {
		case opCreateService:
			return "service already exists"
		case opCreateDest:
			return "destination already exists"
		case opStartDaemon:
			return "a daemon of that state is already running"
		}
	case syscall.EPERM, syscall.EACCES:
		return "permission denied: IPVS needs CAP_NET_ADMIN in the initial user namespace, for reads too"
	case syscall.ENODEV:
		if op == opStartDaemon {
			return "no such interface in this network namespace"
		}
	case syscall.ERANGE:
		switch op {
		case opCreateDest, opUpdateDest:
			return "weight or thresholds out of range"
		}
		return "attribute out of range"
	case syscall.EAFNOSUPPORT:
		return "address family not supported (IPv6 disabled, or not ipv4 or ipv6)"
	case syscall.EOPNOTSUPP:
		return "operation not supported by this kernel"
	case syscall.EINVAL:
		return "invalid argument"
	}
	return ""
}

// Operation names, the one table of them: used in errors and in
// errnoMeaning.
const (
	opInfo           = "get info"
	opTimeouts       = "get timeouts"
	opSetTimeouts    = "set timeouts"
	opServices       = "list services"
	opService        = "get service"
	opCreateService  = "create service"
	opUpdateService  = "update service"
	opRemoveService  = "remove service"
	opDests          = "list destinations of"
	opCreateDest     = "create destination"
	opUpdateDest     = "update destination"
	opRemoveDest     = "remove destination"
	opFlush          = "flush"
	opZero           = "zero stats"
	opDaemons        = "list daemons"
	opStartDaemon    = "start daemon"
	opStopDaemon     = "stop daemon"
	opNew            = "connect"
	opLookupFamily   = "look up"
	opApply          = "apply batch"
	opVirtualServers = "list virtual servers"
	opConnections    = "list connections"
	opSysctls        = "get sysctls"
	opSetSysctls     = "set sysctl"
	opTotals         = "get totals"
	opFlushConntrack = "flush conntrack"
)

// errNoProc is the error of a procfs method of a client that has no
// procfs behind it, such as one over genltest.
var errNoProc = fmt.Errorf("this client reads no procfs: %w", errors.ErrUnsupported)

// procError is the error of op when a read of IPVS's procfs files failed
// with err: a file that is not there means no IPVS in the namespace, as
// when ip_vs is not loaded, so it matches ErrNoIPVS too.
func procError(op string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%w: %w", ErrNoIPVS, err)
	}
	return &Error{Op: op, Err: err}
}
