//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// sysctlDir holds the IPVS sysctls of the opening thread's namespace.
const sysctlDir = "/proc/sys/net/ipv4/vs/"

// Sysctls reads the IPVS sysctls of the client's network namespace (not
// the caller's: procfs resolves /proc/sys/net by the opening thread's
// namespace, so they are read from a thread in the client's).
func (c *Client) Sysctls(ctx context.Context) (Sysctls, error) {
	var s Sysctls
	err := c.inNetNS(func() error {
		entries, err := os.ReadDir(sysctlDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%w: %w", ErrNoIPVS, err)
			}
			return err
		}
		present := map[string]bool{}
		for _, de := range entries {
			present[de.Name()] = true
		}
		for i := range sysctlEntries {
			e := &sysctlEntries[i]
			if !present[e.name] {
				s.Absent = append(s.Absent, e.name)
				continue
			}
			delete(present, e.name)
			text, err := readSysctl(ctx, e.name)
			if err == nil {
				err = e.decode(&s, text)
			}
			if err != nil {
				return err
			}
		}
		for name := range present {
			text, err := readSysctl(ctx, name)
			if err != nil {
				return err
			}
			if s.Other == nil {
				s.Other = map[string]string{}
			}
			s.Other[name] = text
		}
		return nil
	})
	if err != nil {
		return Sysctls{}, &Error{Op: opSysctls, Err: err}
	}
	return s, nil
}

// readSysctl reads an entry, without its final newline.
func readSysctl(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b, err := os.ReadFile(sysctlDir + name)
	return strings.TrimSuffix(string(b), "\n"), err
}

// SetSysctls writes the entries ch gives, in the client's network
// namespace, after checking every value: a value out of the range the
// kernel accepts is refused before anything is written, with an
// *InvalidError that names the entry and the value. The entries are then
// written one by one, in the order of SysctlChanges' fields, then Other's
// by name; an entry the kernel lacks or refuses does not stop the others,
// and the error joins each failure (an absent one matches
// os.ErrNotExist). Writing needs CAP_NET_ADMIN over the namespace.
func (c *Client) SetSysctls(ctx context.Context, ch SysctlChanges) error {
	writes, err := ch.writes()
	if err != nil {
		return &Error{Op: opSetSysctls, Err: err}
	}
	var errs []error
	err = c.inNetNS(func() error {
		for _, w := range writes {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := writeSysctl(w.name, w.text); err != nil {
				errs = append(errs, &Error{Op: opSetSysctls, Object: fmt.Sprintf("%s to %q", w.name, w.text), Err: err})
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, &Error{Op: opSetSysctls, Err: err})
	}
	return errors.Join(errs...)
}

// writeSysctl writes text to an entry in one write, as the kernel wants.
func writeSysctl(name, text string) error {
	f, err := os.OpenFile(sysctlDir+name, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("this kernel has no such entry: %w", err)
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
		// The errno alone, so that Error spells it out.
		err = pe.Err
	}
	return err
}

const (
	opSysctls    = "get sysctls"
	opSetSysctls = "set sysctl"
)
