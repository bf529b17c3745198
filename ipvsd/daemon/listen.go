package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// listen opens the API's listeners: "unix:PATH" is a unix socket, made
// with mode 0660 (a stale socket left by a crash is removed first), any
// other address is TCP.
func listen(addrs []string) ([]net.Listener, error) {
	var out []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	for _, a := range addrs {
		path, isUnix := strings.CutPrefix(a, "unix:")
		if !isUnix {
			l, err := net.Listen("tcp", a)
			if err != nil {
				return fail(err)
			}
			out = append(out, l)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fail(err)
		}
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode()&fs.ModeSocket == 0 {
				return fail(fmt.Errorf("%s exists and is not a socket", path))
			}
			if c, err := net.Dial("unix", path); err == nil {
				c.Close()
				return fail(fmt.Errorf("%s: another ipvsd answers there", path))
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(err)
			}
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return fail(err)
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return fail(err)
		}
		out = append(out, l)
	}
	return out, nil
}
