package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// notifySystemd tells systemd of the daemon's state, when it runs under
// Type=notify (NOTIFY_SOCKET set); otherwise it does nothing.
func notifySystemd(state string, log *slog.Logger) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("notifying systemd", "state", state, "err", err)
	}
}

// reloadingNotice is the notification of a reload under way, with the
// monotonic time systemd's Type=notify-reload asks for.
func reloadingNotice() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000)
}

// systemdWatchdog pets systemd's watchdog (WatchdogSec=) at half its
// interval while the director's loops turn; when they stall, it stops,
// and systemd restarts the daemon.
func systemdWatchdog(ctx context.Context, d *director.Director, log *slog.Logger) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	stalled := ""
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			why := d.Liveness(now)
			if why == "" {
				notifySystemd("WATCHDOG=1", log)
			} else if why != stalled {
				log.Error("not petting systemd's watchdog", "why", why)
			}
			stalled = why
		}
	}
}
