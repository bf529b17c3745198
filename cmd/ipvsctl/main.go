// Command ipvsctl manages the Linux kernel's IP Virtual Server with
// ipvsadm 1.31's command line, byte-compatible listings, a lossless save,
// a restore that is a diff, JSON and YAML output, and --netns. Run
// "ipvsctl --help" for its manual.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		// A second signal has its default effect, should the first
		// not end the program soon enough.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		cancel(signalError{s.(syscall.Signal)})
	}()
	os.Exit(run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// signalError is the cause of a context that a signal cancelled.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return e.sig.String() }

// interrupted returns the status of a program that a signal ended
// (128 + its number, as a shell reports it), after saying so, or 0 if
// no signal came.
func (e *env) interrupted() int {
	var se signalError
	if e.ctx.Err() == nil {
		return 0
	}
	if errors.As(context.Cause(e.ctx), &se) {
		fmt.Fprintf(e.errw, "%s: stopped by %s\n", filepath.Base(e.program), se.sig)
		return 128 + int(se.sig)
	}
	fmt.Fprintf(e.errw, "%s: %v\n", filepath.Base(e.program), context.Cause(e.ctx))
	return 1
}

// env is one invocation: its streams and, once opened, its client.
type env struct {
	ctx     context.Context
	program string
	stdin   io.Reader
	out     *bufio.Writer
	errw    io.Writer
	client  *ipvs.Client
	// dial makes the client; nil is ipvs.New. Tests set it, and
	// waitInterval, apply --wait's (zero: waitInterval).
	dial         func(*ipvs.Config) (*ipvs.Client, error)
	waitInterval time.Duration
	// modules lists the kernel's modules (see kernelModules); nil is
	// kernelModules. Tests set it.
	modules func() map[string]bool
}

// run executes one command line and returns the exit status ipvsadm would.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := newEnv(ctx, argv[0], stdin, stdout, stderr)
	defer e.out.Flush()
	return e.run(argv)
}

func newEnv(ctx context.Context, program string, stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{ctx: ctx, program: program, stdin: stdin, out: bufio.NewWriterSize(stdout, 64<<10), errw: stderr}
}

// run executes argv; the caller flushes e.out.
func (e *env) run(argv []string) int {
	if len(argv) > 1 {
		switch argv[1] {
		case "apply":
			return e.apply(argv)
		case "completion":
			return e.completion(argv[2:])
		case "__complete":
			return e.complete(argv[2:])
		}
	}
	cmd, err := cli.Parse(argv)
	if err != nil {
		return e.refused(err)
	}
	switch cmd.Cmd {
	case cli.CmdHelp:
		usage(e.out, filepath.Base(e.program))
		return 0
	case cli.CmdVersion:
		fmt.Fprintln(e.out, versionLine())
		return 0
	}
	if code := e.open(cmd.NetNS); code != 0 {
		return code
	}
	defer e.client.Close()
	return e.execute(cmd, false)
}

// checkTable checks the desired table before any write (see
// desiredTable.check) and returns the status of a refusal, or 0.
func (e *env) checkTable(t *desiredTable, current *kernelTable, input string) int {
	modules := e.modules
	if modules == nil {
		modules = kernelModules
	}
	if err := t.check(current, modules()); err != nil {
		fmt.Fprintf(e.errw, "%s%v (nothing was changed)\n", input, err)
		return 2
	}
	return 0
}

// refused prints a parse refusal as ipvsadm does and returns its status.
func (e *env) refused(err error) int {
	var xe *cli.ExitError
	if !errors.As(err, &xe) {
		fmt.Fprintln(e.errw, err)
		return 2
	}
	if xe.TryHelp {
		fmt.Fprintln(e.errw, cli.TryHelp(e.program))
	} else {
		fmt.Fprintln(e.errw, xe.Msg)
	}
	return xe.Code
}

// open dials the client in the namespace --netns names: a path, or a name
// under /var/run/netns as "ip netns" makes.
func (e *env) open(netns string) int {
	cfg := &ipvs.Config{}
	if netns != "" {
		cfg.NetNSPath = netns
		if !strings.Contains(netns, "/") {
			cfg.NetNSPath = "/var/run/netns/" + netns
		}
	}
	dial := e.dial
	if dial == nil {
		dial = ipvs.New
	}
	c, err := dial(cfg)
	if err != nil {
		fmt.Fprintf(e.errw, "Can't initialize ipvs: %v\nAre you sure that IP Virtual Server is built in the kernel or as module?\n", err)
		return 2
	}
	e.client = c
	return 0
}

// execute runs a parsed command; inRestore is set for the lines of -R.
func (e *env) execute(cmd *cli.Command, inRestore bool) int {
	switch cmd.Cmd {
	case cli.CmdList:
		return e.list(cmd)
	case cli.CmdSave:
		return e.save(cmd)
	case cli.CmdRestore:
		if inRestore {
			fmt.Fprintln(e.errw, cli.TryHelp(e.program))
			return 255
		}
		return e.restore(cmd)
	}
	return e.write(cmd)
}
