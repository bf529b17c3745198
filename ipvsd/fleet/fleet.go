package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// Fleet is the fleet as its directors report it.
type Fleet struct {
	Prefix string `json:"prefix"`
	// Revision is the configuration's: of its last change that a
	// director must reach.
	Revision       int64   `json:"revision"`
	VirtualServers int     `json:"virtual_servers"`
	LastApply      *Marker `json:"last_apply,omitempty"`
	// InvalidKeys are the keys every director refuses.
	InvalidKeys   []KeyError     `json:"invalid_keys,omitempty"`
	Directors     []DirectorView `json:"directors"`
	Disagreements []Disagreement `json:"disagreements"`
	// Unreadable are the directors' keys that do not hold a state.
	Unreadable []string `json:"unreadable,omitempty"`
}

// DirectorView is a director's state, as the fleet sees it.
type DirectorView struct {
	DirectorState
	// Behind says its table is not yet synced to the configuration's
	// revision.
	Behind bool `json:"behind"`
	// Selected is how many virtual servers of the configuration select
	// it.
	Selected int `json:"selected"`
}

// Disagreement is a real server whose health the directors that check
// it do not agree on.
type Disagreement struct {
	VirtualServer string   `json:"virtual_server"`
	RealServer    string   `json:"real_server"`
	Down          []string `json:"down"`
	Up            []string `json:"up"`
	Unknown       []string `json:"unknown,omitempty"`
}

// ReadFleet reads the configuration and the directors' states.
func ReadFleet(ctx context.Context, cli *clientv3.Client, l Layout) (*Fleet, error) {
	kvs, _, _, err := readPrefix(ctx, cli, l.Config())
	if err != nil {
		return nil, err
	}
	f := &Fleet{Prefix: l.prefix, Directors: []DirectorView{}, Disagreements: []Disagreement{}}
	k := newKeys(l)
	for _, kv := range kvs {
		f.Revision = max(f.Revision, kv.ModRevision)
		_, _ = k.put(string(kv.Key), kv.Value, kv.ModRevision)
	}
	if k.marker.State != "" {
		m := k.marker
		f.LastApply = &m
	}
	f.VirtualServers = len(k.good) + len(k.invalid)
	f.InvalidKeys = k.errors()
	dkvs, _, _, err := readPrefix(ctx, cli, l.Directors())
	if err != nil {
		return nil, err
	}
	// The virtual servers of each director, by name, for the health of
	// real servers it does not list as down.
	selected := map[string]map[string]bool{}
	for _, kv := range dkvs {
		var ds DirectorState
		if err := json.Unmarshal(kv.Value, &ds); err != nil || ds.Node == "" {
			f.Unreadable = append(f.Unreadable, string(kv.Key))
			continue
		}
		sel := map[string]bool{}
		for name, e := range k.good {
			if e.vs.Selects(ds.Node, ds.Labels) {
				sel[name] = true
			}
		}
		selected[ds.Node] = sel
		f.Directors = append(f.Directors, DirectorView{DirectorState: ds, Behind: ds.AppliedRevision < f.Revision, Selected: len(sel)})
	}
	slices.SortFunc(f.Directors, func(a, b DirectorView) int { return compareStrings(a.Node, b.Node) })
	f.Disagreements = disagreements(f.Directors, selected, k)
	return f, nil
}

// disagreements finds the real servers some director says are down and
// another, that checks it too, says are up.
func disagreements(ds []DirectorView, selected map[string]map[string]bool, k *keys) []Disagreement {
	suspects := map[string]bool{}
	for _, d := range ds {
		for _, n := range d.Down {
			suspects[n] = true
		}
	}
	out := []Disagreement{}
	for _, n := range sortedKeys(suspects) {
		vs, rs, _ := strings.Cut(n, "/")
		e := k.good[vs]
		if e == nil || !hasRealServer(e.vs, rs) {
			continue
		}
		dg := Disagreement{VirtualServer: vs, RealServer: rs}
		for _, d := range ds {
			switch {
			case !selected[d.Node][vs]:
			case slices.Contains(d.Down, n):
				dg.Down = append(dg.Down, d.Node)
			case slices.Contains(d.Unknown, n) || d.Truncated > 0:
				dg.Unknown = append(dg.Unknown, d.Node)
			default:
				dg.Up = append(dg.Up, d.Node)
			}
		}
		if len(dg.Down) > 0 && len(dg.Up) > 0 {
			out = append(out, dg)
		}
	}
	return out
}

func hasRealServer(vs *config.VirtualServer, rs string) bool {
	for _, b := range vs.Backends() {
		if addrPort(b.Destination.Address, b.Destination.Port) == rs {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WriteText writes the fleet for a person.
func (f *Fleet) WriteText(w io.Writer, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "configuration %s: revision %d, %d virtual servers", f.Prefix, f.Revision, f.VirtualServers)
	if m := f.LastApply; m != nil {
		fmt.Fprintf(&b, ", applied by %s %s ago", m.By, now.Sub(m.At).Round(time.Second))
		if m.State == markerApplying {
			b.WriteString(" (an apply is under way)")
		}
	}
	b.WriteString("\n")
	for _, e := range f.InvalidKeys {
		fmt.Fprintf(&b, "refused by every director: %s: %s\n", e.Key, e.Error)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIRECTOR\tSTATE\tREVISION\tAPPLIED\tVIRTUAL SERVERS\tUP\tDOWN\tUNKNOWN\tERRORS\tUPDATED")
	for _, d := range f.Directors {
		state := "current"
		if d.Behind {
			state = "behind"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s ago\n", d.Node, state, d.Revision, d.AppliedRevision, d.VirtualServers,
			d.Health["up"], d.Health["down"], d.Health["unknown"], len(d.Errors), now.Sub(d.Updated).Round(time.Second))
	}
	tw.Flush()
	if len(f.Directors) == 0 {
		b.WriteString("no director reports (each writes its state while it runs)\n")
	}
	for _, d := range f.Directors {
		for _, e := range d.Errors {
			fmt.Fprintf(&b, "%s: %s\n", d.Node, e)
		}
		if o := d.LastOutage; o != nil {
			fmt.Fprintf(&b, "%s: was cut off from etcd for %s, until %s ago\n", d.Node, o.To.Sub(o.From).Round(time.Second), now.Sub(o.To).Round(time.Second))
		}
	}
	for _, dg := range f.Disagreements {
		fmt.Fprintf(&b, "disagree on %s %s: down on %s; up on %s", dg.VirtualServer, dg.RealServer, strings.Join(dg.Down, ", "), strings.Join(dg.Up, ", "))
		if len(dg.Unknown) > 0 {
			fmt.Fprintf(&b, "; unknown on %s", strings.Join(dg.Unknown, ", "))
		}
		b.WriteString("\n")
	}
	for _, k := range f.Unreadable {
		fmt.Fprintf(&b, "unreadable: %s\n", k)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
