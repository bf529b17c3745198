package director

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/internal/atomicfile"
)

// StateFile is the name of the store's file in its directory.
const StateFile = "state.json"

// Store keeps what the director must remember across restarts: the
// services it owns (so that it removes one whose virtual server left the
// configuration, even after a restart, and never touches another), the
// virtual servers changed through the API, and the admin states of real
// servers. It is one JSON file, replaced whole at each change: written
// to a temporary file, synced, renamed over the old one, and the
// directory synced, so that a crash leaves the old state or the new.
type Store struct {
	path string // "" keeps the state in memory only

	mu   sync.Mutex
	data storeData
}

// storeData is the file's content.
type storeData struct {
	Version int `json:"version"`
	// Owned are the identities of the services the director has written
	// and not yet removed, as package ipvs names them ("tcp
	// 192.0.2.10:80", "fwmark 7 ipv4").
	Owned []string `json:"owned"`
	// VirtualServers are the changes made through the API, by name.
	VirtualServers map[string]Override `json:"virtual_servers,omitempty"`
	// Admin are the admin states set through the API other than
	// enabled, by virtual server name, then real server address:port.
	Admin map[string]map[string]AdminState `json:"admin,omitempty"`
}

// storeVersion is the version of the file's format this package writes.
const storeVersion = 1

// Override is a virtual server changed through the API, which takes the
// place of the configuration file's of the same name.
type Override struct {
	// Deleted means removed: the file's virtual server of this name is
	// not applied.
	Deleted bool `json:"deleted,omitempty"`
	// Spec is the virtual server as given, in the configuration file's
	// schema (YAML).
	Spec string `json:"spec,omitempty"`
	// Changed is when it was made.
	Changed time.Time `json:"changed"`
}

// OpenStore opens the store of the directory dir, making the directory
// (mode 0700) if it does not exist. A state file that can not be read is
// an error: it holds what the director owns, and guessing would risk
// another program's services.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	s := &Store{path: filepath.Join(dir, StateFile)}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("state %s: %w (move it aside to start afresh; the director then owns only the services of its configuration)", s.path, err)
	}
	if s.data.Version > storeVersion {
		return nil, fmt.Errorf("state %s: version %d is newer than this ipvsd's %d", s.path, s.data.Version, storeVersion)
	}
	return s, nil
}

// ReadStore returns a copy in memory of the store of the directory dir,
// empty if it has none, for a dry run: changing it writes nothing.
func ReadStore(dir string) (*Store, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return NewMemoryStore(), nil
	case err != nil:
		return nil, fmt.Errorf("state: %w", err)
	}
	s := NewMemoryStore()
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("state %s: %w", filepath.Join(dir, StateFile), err)
	}
	return s, nil
}

// NewMemoryStore returns a Store that keeps its state in memory only.
func NewMemoryStore() *Store { return &Store{} }

// Path returns the state file's path, or "" for a memory store.
func (s *Store) Path() string { return s.path }

// snapshot returns a copy of the state.
func (s *Store) snapshot() storeData {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.clone()
}

// update changes the state with fn, on a copy, and writes it; if the
// write fails, the state stays as it was.
func (s *Store) update(fn func(*storeData)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.data.clone()
	fn(&next)
	next.Version = storeVersion
	if s.path != "" {
		if err := writeAtomic(s.path, next); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	s.data = next
	return nil
}

func (d storeData) clone() storeData {
	c := storeData{Version: d.Version, Owned: slices.Clone(d.Owned), VirtualServers: maps.Clone(d.VirtualServers)}
	if d.Admin != nil {
		c.Admin = make(map[string]map[string]AdminState, len(d.Admin))
		for k, v := range d.Admin {
			c.Admin[k] = maps.Clone(v)
		}
	}
	return c
}

// writeAtomic replaces the file at path with data as JSON.
func writeAtomic(path string, data storeData) error {
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}
