package director

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// The changes an operator makes through the API. Each is recorded in the
// store before it takes effect, so that it survives a restart, and
// refused whole if it can not be applied.

// ErrNotFound is the error of an operation on a virtual server or real
// server that is not in force; match it with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrConflict is the error of a change that conflicts with what is in
// force, such as a virtual server whose identity is another's; match it
// with errors.Is.
var ErrConflict = errors.New("conflict")

// SetAdmin sets the admin state of the real server rs ("address:port")
// of the virtual server named vsName.
func (d *Director) SetAdmin(vsName, rs string, a AdminState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt := d.byName[vsName]
	if rt == nil {
		return fmt.Errorf("virtual server %q: %w", vsName, ErrNotFound)
	}
	i := slices.IndexFunc(rt.cfg.Backends(), func(b config.Backend) bool { return addrPort(b.Destination).String() == rs })
	if i < 0 {
		return fmt.Errorf("real server %s of virtual server %q: %w", rs, vsName, ErrNotFound)
	}
	err := d.store.update(func(s *storeData) {
		if s.Admin == nil {
			s.Admin = map[string]map[string]AdminState{}
		}
		m := s.Admin[vsName]
		if m == nil {
			m = map[string]AdminState{}
			s.Admin[vsName] = m
		}
		if a == AdminEnabled {
			delete(m, rs)
			if len(m) == 0 {
				delete(s.Admin, vsName)
			}
		} else {
			m[rs] = a
		}
	})
	if err != nil {
		return err
	}
	rt.admins[i] = a
	d.log.Info("admin state set through the API", "virtual_server", vsName, "real_server", rs, "state", a)
	d.markDirty()
	return nil
}

// PutVirtualServer puts in force the virtual server spec (one virtual
// server in the configuration's schema) under name, in the place of the
// file's of that name if there is one, until RevertVirtualServer. It is
// refused whole if it does not validate or its identity is another's.
func (d *Director) PutVirtualServer(name string, spec []byte) error {
	if err := config.CheckName(name); err != nil {
		return err
	}
	vs, err := config.ParseVirtualServer("virtual server "+name, spec)
	if err != nil {
		return err
	}
	if vs.Name != "" && vs.Name != name {
		return fmt.Errorf("virtual server %q: the body names it %q", name, vs.Name)
	}
	return d.override(name, Override{Spec: string(spec)}, "changed")
}

// DeleteVirtualServer takes the virtual server named name out of force,
// the file's included, until RevertVirtualServer.
func (d *Director) DeleteVirtualServer(name string) error {
	d.mu.Lock()
	_, known := d.byName[name]
	d.mu.Unlock()
	if !known {
		return fmt.Errorf("virtual server %q: %w", name, ErrNotFound)
	}
	return d.override(name, Override{Deleted: true}, "deleted")
}

// RevertVirtualServer drops what the API changed of the virtual server
// named name: the file's, if it has one, is in force again.
func (d *Director) RevertVirtualServer(name string) error {
	if _, ok := d.store.snapshot().VirtualServers[name]; !ok {
		return fmt.Errorf("no change made through the API to virtual server %q: %w", name, ErrNotFound)
	}
	return d.override(name, Override{}, "reverted")
}

// override records o as the API's change of name (the zero Override
// drops it), applies the result, and keeps the old state if either
// fails.
func (d *Director) override(name string, o Override, what string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg == nil {
		return errors.New("no configuration in force yet")
	}
	old := d.store.snapshot()
	next := old.clone()
	if next.VirtualServers == nil {
		next.VirtualServers = map[string]Override{}
	}
	if o == (Override{}) {
		delete(next.VirtualServers, name)
	} else {
		o.Changed = d.now().UTC()
		next.VirtualServers[name] = o
	}
	if err := d.applyLocked(d.cfg, next); err != nil {
		return err
	}
	if err := d.store.update(func(s *storeData) { s.VirtualServers = next.VirtualServers }); err != nil {
		if rerr := d.applyLocked(d.cfg, old); rerr != nil {
			d.log.Error("restoring the virtual servers after a failed write of the state", "err", rerr)
		}
		return err
	}
	d.log.Info("virtual server "+what+" through the API", "virtual_server", name, "state", d.store.Path())
	return nil
}

// Overrides returns the virtual servers changed through the API, by
// name.
func (d *Director) Overrides() map[string]Override {
	return maps.Clone(d.store.snapshot().VirtualServers)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
