package main

import (
	"errors"
	"fmt"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// commandErrnos are libipvs's messages for an errno of one command.
var commandErrnos = map[cli.Cmd]map[syscall.Errno]string{
	cli.CmdAdd:         {syscall.EEXIST: "Service already exists", syscall.ENOENT: "Scheduler or persistence engine not found"},
	cli.CmdEdit:        {syscall.ESRCH: "No such service", syscall.ENOENT: "Scheduler or persistence engine not found"},
	cli.CmdDel:         {syscall.ESRCH: "No such service"},
	cli.CmdZero:        {syscall.ESRCH: "No such service"},
	cli.CmdAddDest:     {syscall.ESRCH: "Service not defined", syscall.EEXIST: "Destination already exists"},
	cli.CmdEditDest:    {syscall.ESRCH: "Service not defined", syscall.ENOENT: "No such destination"},
	cli.CmdDelDest:     {syscall.ESRCH: "Service not defined", syscall.ENOENT: "No such destination"},
	cli.CmdStartDaemon: {syscall.EEXIST: "Daemon has already run"},
	cli.CmdStopDaemon:  {syscall.ESRCH: "No daemon is running"},
	cli.CmdList:        {syscall.ESRCH: "No such service"},
}

// anyErrnos are libipvs's messages for an errno of any command.
var anyErrnos = map[syscall.Errno]string{
	syscall.EPERM:        "Permission denied (you must be root)",
	syscall.EINVAL:       "Invalid operation.  Possibly wrong module version, address not unicast, ...",
	syscall.ENOPROTOOPT:  "Protocol not available",
	syscall.ENOMEM:       "Memory allocation problem",
	syscall.EOPNOTSUPP:   "Operation not supported with IPv6",
	syscall.EAFNOSUPPORT: "Operation not supported with specified address family",
	syscall.EMSGSIZE:     "Module is wrong version",
}

// kernelMessage spells err as ipvsadm's ipvs_strerror does for cmd, or
// returns the error itself when it is not a kernel errno (a refusal of
// the library, a context, a socket).
func kernelMessage(cmd cli.Cmd, err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	if m, ok := commandErrnos[cmd][errno]; ok {
		return m
	}
	if m, ok := anyErrnos[errno]; ok {
		return m
	}
	// strerror capitalizes what Go's table spells in lower case.
	s := errno.Error()
	r, n := utf8.DecodeRuneInString(s)
	return fmt.Sprintf("%c%s", unicode.ToUpper(r), s[n:])
}
