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

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is one invocation: its streams and, once opened, its client.
type env struct {
	ctx     context.Context
	program string
	stdin   io.Reader
	out     *bufio.Writer
	errw    io.Writer
	client  *ipvs.Client
}

// run executes one command line and returns the exit status ipvsadm would.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, program: argv[0], stdin: stdin, out: bufio.NewWriterSize(stdout, 64<<10), errw: stderr}
	defer e.out.Flush()
	if len(argv) > 1 && argv[1] == "apply" {
		return e.apply(argv[2:])
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
	c, err := ipvs.New(cfg)
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
