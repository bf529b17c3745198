// Package atomicfile replaces files so that a crash leaves the old one
// or the new one, never a part: the state files of the director and of
// its fleet source.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces the file at path with data: written to a temporary
// file beside it, synced, renamed over the old one, and the directory
// synced, so that the rename itself survives a crash.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
