package director

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// Hook is a command to run on an event: quorum_up and quorum_down of a
// virtual server, notify_up and notify_down of a real server.
type Hook struct {
	// Event is "quorum_up", "quorum_down", "notify_up" or "notify_down".
	Event   string
	Command config.Command
	// Env describes the event to the command, as NAME=VALUE:
	// IPVSD_EVENT, IPVSD_VIRTUAL_SERVER (the name), IPVSD_SERVICE
	// ("tcp 192.0.2.10:80"), and IPVSD_REAL_SERVER (address:port) or
	// IPVSD_LIVE_WEIGHT and IPVSD_QUORUM.
	Env []string
	// Timeout bounds the command; its process group is killed then.
	Timeout time.Duration
}

// HookRunner runs hooks. Run must not block the director: it starts the
// hook and returns.
type HookRunner interface {
	Run(h Hook)
}

// ExecHooks runs each hook as a process of its own process group, with
// the environment of the daemon and the hook's, killed whole at its
// timeout; its exit and output are logged. At most hookWorkers run at
// once, in the order they came; past hookQueue waiting, a hook is
// dropped and the drop logged, so that a storm of flapping real servers
// can not fork the machine to its knees.
type ExecHooks struct {
	Logger *slog.Logger

	once  sync.Once
	queue chan Hook
}

const (
	// maxHookOutput bounds the output of a hook that is logged.
	maxHookOutput = 4 << 10
	hookWorkers   = 16
	hookQueue     = 1024
)

// Run queues h and returns.
func (e *ExecHooks) Run(h Hook) {
	e.once.Do(func() {
		e.queue = make(chan Hook, hookQueue)
		for range hookWorkers {
			go func() {
				for h := range e.queue {
					e.run(h)
				}
			}()
		}
	})
	select {
	case e.queue <- h:
	default:
		e.Logger.Error("hook dropped: too many hooks waiting", "event", h.Event, "command", h.Command.String(), "waiting", hookQueue)
	}
}

func (e *ExecHooks) run(h Hook) {
	argv := h.Command.Argv()
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), h.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	attrs := []any{"event", h.Event, "command", h.Command.String(), "duration", time.Since(start).Round(time.Millisecond)}
	if out.Len() > 0 {
		attrs = append(attrs, "output", out.String())
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Logger.Warn("hook killed at its timeout", append(attrs, "timeout", h.Timeout)...)
	case err != nil:
		e.Logger.Warn("hook failed", append(attrs, "err", err)...)
	default:
		e.Logger.Info("hook ran", attrs...)
	}
}

// limitedBuffer keeps the first maxHookOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxHookOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
