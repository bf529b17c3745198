package procfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SysctlDir holds the IPVS sysctls of the namespace of the thread that
// opens it.
const SysctlDir = "/proc/sys/net/ipv4/vs"

// ReadSysctls returns the entries of dir by name, each as its text
// without the final newline.
func ReadSysctls(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = strings.TrimSuffix(string(b), "\n")
	}
	return out, nil
}

// WriteSysctl writes text to the entry name of dir in one write, as the
// kernel wants. An entry the kernel lacks is an error that says so and
// matches os.ErrNotExist; a value the kernel refuses, its errno alone.
func WriteSysctl(dir, name, text string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return NoEntry(err)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(text + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}

// NoEntry is the error of a write to a sysctl the kernel lacks, whose
// cause is err.
func NoEntry(err error) error { return fmt.Errorf("this kernel has no such entry: %w", err) }
