// Package etcdtest runs a real etcd for tests and benchmarks: the
// binary of Debian's etcd-server package (or $ETCD), on loopback ports,
// with a data directory of its own, stopped and restarted at will.
package etcdtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the etcd binary: $ETCD, else etcd on PATH.
func Binary() (string, error) {
	if b := os.Getenv("ETCD"); b != "" {
		return b, nil
	}
	return exec.LookPath("etcd")
}

// Options configure a Server.
type Options struct {
	// Dir holds the data directory and the log; required.
	Dir string
	// Host is the address it listens on; default 127.0.0.1.
	Host string
	// Args are more flags, such as --auto-compaction-retention.
	Args []string
	// ClientPort and PeerPort are its ports; 0 picks free ones on Host.
	ClientPort, PeerPort int
	// Start starts the process (in a network namespace, say); nil starts
	// it from here, killed if this process dies.
	Start func(cmd *exec.Cmd) error
	// Dial reaches Host, for the health check (from another namespace,
	// say); nil dials from here.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, if set, serves clients over TLS with these files, and asks
	// them for a certificate signed by the CA (--client-cert-auth);
	// ClientTLS is then the health check's client configuration.
	TLS       *TLSFiles
	ClientTLS *tls.Config
}

// TLSFiles are etcd's server certificate, its key, and the CA that signs
// its clients' certificates.
type TLSFiles struct {
	Cert, Key, CA string
}

// Server is an etcd process.
type Server struct {
	opts      Options
	bin       string
	clientURL string
	peerURL   string
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	logFile   string
}

// Start starts etcd and waits until it answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, fmt.Errorf("etcd: %w (install Debian's etcd-server, or set ETCD)", err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	ports := []int{opts.ClientPort, opts.PeerPort}
	if opts.ClientPort == 0 || opts.PeerPort == 0 {
		var err error
		if ports, err = freePorts(opts.Host, 2); err != nil {
			return nil, err
		}
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	s := &Server{opts: opts, bin: bin, logFile: filepath.Join(opts.Dir, "etcd.log"),
		clientURL: fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(opts.Host, fmt.Sprint(ports[0]))),
		peerURL:   fmt.Sprintf("http://%s", net.JoinHostPort(opts.Host, fmt.Sprint(ports[1])))}
	if err := s.Restart(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New starts etcd for a test, in a temporary directory, and stops it
// when the test ends. Without the binary, the test is skipped, unless
// CI is set: CI installs it (.ci/run), and a test skipped there would
// hide that it is missing.
func New(tb testing.TB, args ...string) *Server {
	tb.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("etcd is not installed: %v", err)
		}
		tb.Skipf("etcd is not installed (Debian's etcd-server): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Dir: tb.TempDir(), Args: args})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			b, _ := os.ReadFile(s.logFile)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			tb.Logf("etcd's log (end):\n%s", b)
		}
	})
	return s
}

// Endpoint returns the client URL.
func (s *Server) Endpoint() string { return s.clientURL }

// Restart starts etcd again, on its ports and data directory, after
// Kill or Stop, and waits until it answers.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("etcd is running")
	}
	log, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{
		"--name=test", "--data-dir=" + filepath.Join(s.opts.Dir, "data"),
		"--listen-client-urls=" + s.clientURL, "--advertise-client-urls=" + s.clientURL,
		"--listen-peer-urls=" + s.peerURL, "--initial-advertise-peer-urls=" + s.peerURL,
		"--initial-cluster=test=" + s.peerURL, "--logger=zap", "--log-outputs=stderr",
	}, s.opts.Args...)
	if t := s.opts.TLS; t != nil {
		args = append(args, "--cert-file="+t.Cert, "--key-file="+t.Key, "--trusted-ca-file="+t.CA, "--client-cert-auth")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that killing it kills nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := make(chan struct{})
	if s.opts.Start != nil {
		err = s.opts.Start(cmd)
		if err == nil {
			go func() { _ = cmd.Wait(); close(done) }()
		}
	} else {
		err = startHeld(cmd, done)
	}
	log.Close()
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	s.cmd, s.done = cmd, done
	for {
		if healthy(s.clientURL, s.opts.Dial, s.opts.ClientTLS) {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			b, _ := os.ReadFile(s.logFile)
			return fmt.Errorf("etcd exited at start: %s", tail(b, 2000))
		case <-ctx.Done():
			return fmt.Errorf("etcd did not answer: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startHeld starts cmd, killed with this process, and closes done when
// it exits. The death signal follows the thread that started the
// process, not the process: a thread that ends (as one that entered a
// network namespace does, netns.New's) would kill etcd with it. So the
// thread that starts etcd is held until etcd exits.
func startHeld(cmd *exec.Cmd, done chan struct{}) error {
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	return <-started
}

// Kill kills etcd at once (SIGKILL), as a crash would.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

// Stop stops etcd with SIGTERM.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// healthy reports whether etcd answers its health endpoint.
func healthy(url string, dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsConfig *tls.Config) bool {
	c := http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: tlsConfig}}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode == 200 && strings.Contains(b.String(), `"true"`)
}

// freePorts returns n ports free on host now.
func freePorts(host string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
