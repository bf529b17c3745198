package daemon

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// readLimited reads a configuration file, refusing one too large.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, config.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// watchSignals reloads at each SIGHUP until ctx ends.
func (dm *daemon) watchSignals(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			dm.log.Info("SIGHUP: reloading")
			_ = dm.reload()
		}
	}
}

// settle is how long the file must stay unchanged before a reload: an
// editor writes in several steps, a deployment tool replaces the file by
// renames.
const settle = 300 * time.Millisecond

// watchFile reloads when the configuration file's content changes, until
// ctx ends. It watches the file's directory, so that a file replaced by
// a rename (as editors, configuration managers and Kubernetes'
// ConfigMap volumes do) is followed; a change that leaves the content as
// it is in force does nothing.
func (dm *daemon) watchFile(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		dm.log.Warn("not watching the configuration file; SIGHUP still reloads", "err", err)
		return
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(dm.file)); err != nil {
		dm.log.Warn("not watching the configuration file; SIGHUP still reloads", "err", err)
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-w.Errors:
			dm.log.Warn("watching the configuration file", "err", err)
		case <-w.Events:
			timer.Reset(settle)
		case <-timer.C:
			data, err := readLimited(dm.file)
			dm.reloadMu.Lock()
			same := err == nil && sha256.Sum256(data) == dm.loaded
			dm.reloadMu.Unlock()
			if same {
				continue
			}
			dm.log.Info("the configuration file changed: reloading")
			_ = dm.reload()
		}
	}
}
