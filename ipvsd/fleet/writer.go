package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrConflict says the configuration in etcd changed between the read
// of a plan and its write: nothing of that write was made.
var ErrConflict = errors.New("the fleet's configuration changed since it was read")

// ErrEmpty says a plan would delete every virtual server.
var ErrEmpty = errors.New("the configuration has no virtual servers: every director would remove all of its own")

// Writer writes a fleet's configuration, as an operator does.
type Writer struct {
	Client *clientv3.Client
	Layout Layout
	// MaxOps is the most operations (and comparisons) one transaction
	// may have: etcd's --max-txn-ops, 128 by default.
	MaxOps int
	// MaxBytes bounds one transaction's values: under etcd's
	// --max-request-bytes, 1.5 MiB by default.
	MaxBytes int
	// By names who writes, in the apply marker; default the user and
	// host.
	By string
}

// Change is one key a plan writes or deletes.
type Change struct {
	Name string `json:"name"`
	// Kind is create, update or delete.
	Kind string `json:"kind"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
	// ModRevision is the revision of the key as read; 0 for a new one.
	ModRevision int64 `json:"mod_revision"`
}

// Plan is what writing a configuration would change, against the
// revision it read.
type Plan struct {
	// Revision is the revision read: the write succeeds only if nothing
	// of the configuration changed since.
	Revision int64 `json:"revision"`
	// Keys is how many virtual servers the configuration has, and
	// Current how many etcd has.
	Keys    int      `json:"keys"`
	Current int      `json:"current"`
	Changes []Change `json:"changes"`
	// Marker is the last apply, as read.
	Marker *Marker `json:"last_apply,omitempty"`
	// Invalid are the keys in etcd that no director takes.
	Invalid []KeyError `json:"invalid,omitempty"`
	desired Desired
}

// Plan reads the configuration in etcd and returns what writing desired
// would change.
func (w *Writer) Plan(ctx context.Context, desired Desired) (*Plan, error) {
	kvs, rev, _, err := readPrefix(ctx, w.Client, w.Layout.Config())
	if err != nil {
		return nil, err
	}
	p := &Plan{Revision: rev, Keys: len(desired), desired: desired}
	current := map[string]*mvccpb.KeyValue{}
	for _, kv := range kvs {
		key := string(kv.Key)
		if key == w.Layout.Marker() {
			var m Marker
			if json.Unmarshal(kv.Value, &m) == nil {
				m.Revision = kv.ModRevision
				p.Marker = &m
			}
			continue
		}
		name, err := w.Layout.nameOf(key)
		if err != nil {
			// A key the directors do not read: deleted by a whole apply.
			p.Changes = append(p.Changes, Change{Name: strings.TrimPrefix(key, w.Layout.VirtualServers()), Kind: "delete",
				Old: string(kv.Value), ModRevision: kv.ModRevision})
			continue
		}
		current[name] = kv
		if _, err := parseValue(key, name, kv.Value, kv.ModRevision); err != nil {
			p.Invalid = append(p.Invalid, KeyError{Key: key, ModRevision: kv.ModRevision, Error: err.Error()})
		}
	}
	p.Current = len(current)
	for _, name := range desired.Names() {
		kv := current[name]
		switch {
		case kv == nil:
			p.Changes = append(p.Changes, Change{Name: name, Kind: "create", New: string(desired[name])})
		case string(kv.Value) != string(desired[name]):
			p.Changes = append(p.Changes, Change{Name: name, Kind: "update", Old: string(kv.Value), New: string(desired[name]), ModRevision: kv.ModRevision})
		}
	}
	for name, kv := range current {
		if _, ok := desired[name]; !ok {
			p.Changes = append(p.Changes, Change{Name: name, Kind: "delete", Old: string(kv.Value), ModRevision: kv.ModRevision})
		}
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return compareStrings(a.Name, b.Name) })
	return p, nil
}

// ApplyResult is what an apply wrote.
type ApplyResult struct {
	// Revision is the revision of its last transaction: every director
	// that reaches it has the configuration.
	Revision     int64 `json:"revision"`
	Changes      int   `json:"changes"`
	Transactions int   `json:"transactions"`
}

// key returns the etcd key of a change.
func (w *Writer) key(c Change) string { return w.Layout.VirtualServer(c.Name) }

// Apply writes the plan, if nothing of the configuration changed since
// it was read; else it returns an error that matches ErrConflict and
// says what changed. A plan that fits one transaction (MaxOps, MaxBytes)
// is written in one; a larger one in several, each made only if nothing
// but the previous one changed the configuration since, under an apply
// marker that says "applying" until the last: the directors wait for
// it, and put the whole in force at once. A plan that deletes every
// virtual server needs allowEmpty.
func (w *Writer) Apply(ctx context.Context, p *Plan, allowEmpty bool) (*ApplyResult, error) {
	if len(p.desired) == 0 && p.Current > 0 && !allowEmpty {
		return nil, ErrEmpty
	}
	maxOps, maxBytes := w.MaxOps, w.MaxBytes
	if maxOps <= 0 {
		maxOps = 128
	}
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	marker := Marker{State: markerDone, By: w.by(), At: time.Now().UTC(), Keys: len(p.desired), Changes: len(p.Changes)}
	batches := batch(p.Changes, maxOps-3, maxBytes)
	res := &ApplyResult{Changes: len(p.Changes), Transactions: len(batches)}
	var lease clientv3.LeaseID
	if len(batches) > 1 {
		// The marker says "applying" under a lease of this writer, so
		// that the directors wait no longer than it lives.
		lr, err := w.Client.Grant(ctx, 30)
		if err != nil {
			return nil, err
		}
		lease = lr.ID
		ka, err := w.Client.KeepAlive(ctx, lease)
		if err != nil {
			return nil, err
		}
		go func() {
			for range ka {
			}
		}()
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_, _ = w.Client.Revoke(rctx, lease)
			cancel()
		}()
	}
	rev := p.Revision
	for i, b := range batches {
		var ops []clientv3.Op
		// Nothing of the configuration changed since the last revision
		// this apply read or wrote; and each key updated is the one read
		// (a key deleted meanwhile has no revision to compare).
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(w.Layout.Config()).WithPrefix(), "<", rev+1)}
		for _, c := range b {
			switch c.Kind {
			case "delete":
				ops = append(ops, clientv3.OpDelete(w.key(c)))
			case "update":
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(w.key(c)), "=", c.ModRevision))
				ops = append(ops, clientv3.OpPut(w.key(c), c.New))
			default:
				ops = append(ops, clientv3.OpPut(w.key(c), c.New))
			}
		}
		last := i == len(batches)-1
		m := marker
		var mopts []clientv3.OpOption
		if !last {
			m.State = markerApplying
			mopts = append(mopts, clientv3.WithLease(lease))
		}
		mb, _ := json.Marshal(m)
		ops = append(ops, clientv3.OpPut(w.Layout.Marker(), string(mb), mopts...))
		if last {
			ops = append(ops, clientv3.OpGet(w.Layout.VirtualServers(), clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		}
		resp, err := w.Client.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("transaction %d of %d: %w (the first %d were written, under a marker that holds the directors back until its lease ends)", i+1, len(batches), err, i)
			}
			return nil, err
		}
		if !resp.Succeeded {
			what := w.conflict(ctx, rev)
			if i > 0 {
				return nil, fmt.Errorf("%w: %s; transaction %d of %d was not made, the first %d were (apply again to finish)", ErrConflict, what, i+1, len(batches), i)
			}
			return nil, fmt.Errorf("%w since revision %d: %s", ErrConflict, rev, what)
		}
		rev = resp.Header.Revision
		if last {
			got := resp.Responses[len(resp.Responses)-1].GetResponseRange()
			if got != nil && len(got.Kvs) != len(p.desired) {
				res.Revision = rev
				return res, fmt.Errorf("written, but etcd now has %d virtual servers where the configuration has %d: a key was deleted meanwhile by other means", len(got.Kvs), len(p.desired))
			}
		}
	}
	res.Revision = rev
	return res, nil
}

// conflict says which keys changed since rev.
func (w *Writer) conflict(ctx context.Context, rev int64) string {
	resp, err := w.Client.Get(ctx, w.Layout.Config(), clientv3.WithPrefix(), clientv3.WithMinModRev(rev+1), clientv3.WithKeysOnly())
	if err != nil {
		return "(could not read what: " + err.Error() + ")"
	}
	var names []string
	for _, kv := range resp.Kvs {
		names = append(names, fmt.Sprintf("%s at revision %d", strings.TrimPrefix(string(kv.Key), w.Layout.Prefix()+"/"), kv.ModRevision))
	}
	if len(names) == 0 {
		return "a key was deleted"
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("and %d more", len(names)-10))
	}
	return "changed: " + strings.Join(names, ", ")
}

// batch splits changes into transactions of at most maxOps changes
// (each update also has a comparison) and about maxBytes of values.
func batch(changes []Change, maxOps, maxBytes int) [][]Change {
	var out [][]Change
	var cur []Change
	size := 0
	for _, c := range changes {
		if len(cur) > 0 && (len(cur) >= maxOps || size+len(c.New)+len(c.Name) > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, c)
		size += len(c.New) + len(c.Name)
	}
	if len(cur) > 0 || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

func (w *Writer) by() string {
	if w.By != "" {
		return w.By
	}
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = fmt.Sprint(os.Getuid())
	}
	return user + "@" + host
}
