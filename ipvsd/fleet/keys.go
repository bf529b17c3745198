package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// keys are the configuration keys as a director holds them: the last
// good value of each virtual server, the keys refused, and the apply
// marker. A value that does not parse is refused and its key keeps its
// last good value, so that a key written wrong by hand changes nothing.
type keys struct {
	layout  Layout
	good    map[string]*entry   // by name
	invalid map[string]KeyError // by name
	marker  Marker
}

// entry is a virtual server's key as last read good.
type entry struct {
	value  []byte
	modRev int64
	vs     *config.VirtualServer
}

// KeyError is a key refused: its name, the revision of the value
// refused, and why.
type KeyError struct {
	Key         string `json:"key"`
	ModRevision int64  `json:"mod_revision"`
	Error       string `json:"error"`
}

// Marker is the value of the apply marker: who wrote the configuration
// last, and whether their apply is whole. While an apply that takes
// several transactions runs, it says "applying", and the directors wait
// for it to be done before they put its keys in force.
type Marker struct {
	State string    `json:"state"` // "applying" or "done"
	By    string    `json:"by,omitempty"`
	At    time.Time `json:"at"`
	// Keys is how many virtual servers the configuration has.
	Keys int `json:"keys"`
	// Changes is how many keys the apply wrote and deleted.
	Changes int `json:"changes"`
	// Revision is that of the marker's key, as read.
	Revision int64 `json:"-"`
}

// Marker states.
const (
	markerApplying = "applying"
	markerDone     = "done"
)

func newKeys(l Layout) *keys {
	return &keys{layout: l, good: map[string]*entry{}, invalid: map[string]KeyError{}}
}

// put takes the value a key was given at revision modRev, and returns
// the name of the virtual server it changed ("" for none: the marker,
// or a value refused).
func (k *keys) put(key string, value []byte, modRev int64) (string, error) {
	if key == k.layout.Marker() {
		var m Marker
		if err := json.Unmarshal(value, &m); err != nil {
			// A marker written by hand says nothing: hold nothing back.
			k.marker = Marker{}
			return "", fmt.Errorf("%s: %w", key, err)
		}
		m.Revision = modRev
		k.marker = m
		return "", nil
	}
	name, err := k.layout.nameOf(key)
	if err != nil {
		return "", err
	}
	vs, err := parseValue(key, name, value, modRev)
	if err != nil {
		k.invalid[name] = KeyError{Key: key, ModRevision: modRev, Error: err.Error()}
		return "", err
	}
	delete(k.invalid, name)
	if old := k.good[name]; old != nil && string(old.value) == string(value) {
		old.modRev = modRev
		return "", nil
	}
	k.good[name] = &entry{value: value, modRev: modRev, vs: vs}
	return name, nil
}

// del takes the deletion of a key and returns the virtual server it
// removed, if any.
func (k *keys) del(key string) string {
	if key == k.layout.Marker() {
		k.marker = Marker{}
		return ""
	}
	name, err := k.layout.nameOf(key)
	if err != nil {
		return ""
	}
	delete(k.invalid, name)
	if _, ok := k.good[name]; !ok {
		return ""
	}
	delete(k.good, name)
	return name
}

// parseValue reads a virtual server's value: it must validate alone,
// and its name, if it says one, must be its key's.
func parseValue(key, name string, value []byte, modRev int64) (*config.VirtualServer, error) {
	vs, err := config.ParseVirtualServer(fmt.Sprintf("%s@%d", key, modRev), value)
	if err != nil {
		return nil, err
	}
	if vs.Name != "" && vs.Name != name {
		return nil, fmt.Errorf("%s@%d: name: %q is not the key's name %q", key, modRev, vs.Name, name)
	}
	vs.Name = name
	return vs, nil
}

// errors returns the keys refused, by name.
func (k *keys) errors() []KeyError {
	out := make([]KeyError, 0, len(k.invalid))
	for _, e := range k.invalid {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b KeyError) int { return compareStrings(a.Key, b.Key) })
	return out
}

// selected returns the virtual servers of the director node with
// labels, sorted by name; of two with one service, the one written
// last is refused (added to conflicts), as a key written wrong is.
func (k *keys) selected(node string, labels map[string]string) (vss []config.VirtualServer, conflicts []KeyError) {
	names := make([]string, 0, len(k.good))
	for name, e := range k.good {
		if e.vs.Selects(node, labels) {
			names = append(names, name)
		}
	}
	// The older key keeps its service: sort by revision, then name.
	slices.SortFunc(names, func(a, b string) int {
		if d := k.good[a].modRev - k.good[b].modRev; d != 0 {
			return int(d)
		}
		return compareStrings(a, b)
	})
	ids := make(map[string]string, len(names))
	kept := names[:0]
	for _, name := range names {
		id := k.good[name].vs.Service().String()
		if other, twice := ids[id]; twice {
			conflicts = append(conflicts, KeyError{Key: k.layout.VirtualServer(name), ModRevision: k.good[name].modRev,
				Error: fmt.Sprintf("%s is the service of %q too, written before", id, other)})
			continue
		}
		ids[id] = name
		kept = append(kept, name)
	}
	slices.Sort(kept)
	vss = make([]config.VirtualServer, len(kept))
	for i, name := range kept {
		vss[i] = *k.good[name].vs
	}
	return vss, conflicts
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
