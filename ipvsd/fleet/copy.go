package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/internal/atomicfile"
)

// CopyFile is the name of the local copy of the last good configuration
// in the state directory.
const CopyFile = "fleet.json"

// localCopy is the file's content: the last good value of each virtual
// server's key, at one revision of one etcd, so that a director that
// restarts without etcd starts from it, and resumes from its revision.
type localCopy struct {
	Version   int                  `json:"version"`
	Prefix    string               `json:"prefix"`
	ClusterID uint64               `json:"cluster_id"`
	Revision  int64                `json:"revision"`
	Saved     time.Time            `json:"saved"`
	Keys      map[string]copiedKey `json:"keys"`
	Invalid   map[string]KeyError  `json:"invalid,omitempty"`
}

type copiedKey struct {
	Value       string `json:"value"`
	ModRevision int64  `json:"mod_revision"`
}

const copyVersion = 1

func (s *Source) copyPath() string {
	if s.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(s.opts.StateDir, CopyFile)
}

// writeCopy writes the local copy if the configuration changed since it
// was last written.
func (s *Source) writeCopy() {
	path := s.copyPath()
	s.mu.Lock()
	if path == "" || !s.copyDirty || s.held {
		s.mu.Unlock()
		return
	}
	c := localCopy{Version: copyVersion, Prefix: s.opts.Layout.prefix, ClusterID: s.clusterID, Revision: s.rev, Saved: time.Now(),
		Keys: make(map[string]copiedKey, len(s.keys.good)), Invalid: s.keys.invalid}
	for name, e := range s.keys.good {
		c.Keys[name] = copiedKey{Value: string(e.value), ModRevision: e.modRev}
	}
	b, err := json.Marshal(c)
	s.copyDirty = false
	s.mu.Unlock()
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(path, b)
	}
	if err != nil {
		s.mu.Lock()
		s.copyDirty = true
		s.mu.Unlock()
		s.log.Error("writing the local copy of the fleet's configuration", "file", path, "err", err)
		return
	}
	s.mu.Lock()
	s.copyRev = c.Revision
	s.mu.Unlock()
}

// loadCopy takes the local copy as the director's configuration, and
// reports whether there was one.
func (s *Source) loadCopy() (bool, error) {
	path := s.copyPath()
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var c localCopy
	if err := json.Unmarshal(b, &c); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if c.Version != copyVersion {
		return false, fmt.Errorf("%s: version %d, not %d", path, c.Version, copyVersion)
	}
	if c.Prefix != s.opts.Layout.prefix {
		return false, fmt.Errorf("%s: a copy of prefix %s, not %s", path, c.Prefix, s.opts.Layout.prefix)
	}
	k := newKeys(s.opts.Layout)
	for name, ck := range c.Keys {
		if _, err := k.put(s.opts.Layout.VirtualServer(name), []byte(ck.Value), ck.ModRevision); err != nil {
			s.log.Error("a key of the local copy does not parse; left out", "key", name, "err", err)
		}
	}
	for name, e := range c.Invalid {
		k.invalid[name] = e
	}
	s.mu.Lock()
	s.keys, s.rev, s.clusterID, s.copyRev = k, c.Revision, c.ClusterID, c.Revision
	s.mu.Unlock()
	return true, nil
}
