package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs one command line against the in-memory IPVS f, stdin its
// input.
func ctl(t *testing.T, f *ipvstest.Fake, stdin io.Reader, args ...string) result {
	t.Helper()
	return ctlContext(t, context.Background(), f, stdin, args...)
}

func ctlContext(t *testing.T, ctx context.Context, f *ipvstest.Fake, stdin io.Reader, args ...string) result {
	return ctlModules(t, ctx, f, nil, stdin, args...)
}

// ctlModules runs a command line as ctlContext does, with the kernel's
// modules as modules lists them (nil: not known).
func ctlModules(t *testing.T, ctx context.Context, f *ipvstest.Fake, modules map[string]bool, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := newEnv(ctx, "ipvsctl", stdin, &out, &errb)
	e.dial = func(*ipvs.Config) (*ipvs.Client, error) { return f.NewClient() }
	e.waitInterval = 5e6 // 5 ms
	e.modules = func() map[string]bool { return modules }
	code := e.run(append([]string{"ipvsctl"}, args...))
	e.out.Flush()
	return result{code, out.String(), errb.String()}
}

// mustCtl runs a command line that must succeed, and returns its output.
func mustCtl(t *testing.T, f *ipvstest.Fake, stdin string, args ...string) string {
	t.Helper()
	r := ctl(t, f, bytesReader(stdin), args...)
	if r.code != 0 {
		t.Fatalf("ipvsctl %v: status %d: %s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func bytesReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }

// fakeWith is an in-memory IPVS with the table a restore of rules makes.
func fakeWith(t *testing.T, rules string) *ipvstest.Fake {
	t.Helper()
	f := ipvstest.NewFake()
	mustCtl(t, f, rules, "-R")
	return f
}
