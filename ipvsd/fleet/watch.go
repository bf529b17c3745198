package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// pageSize is how many keys one request of a full read returns: a read
// of ten thousand virtual servers is twenty requests of bounded size, all
// at the revision of the first.
const pageSize = 500

// readAll reads every configuration key at one revision and takes them
// as the director's, keeping the last good value of a key refused; why
// says what made it read (start, compacted, reset), for the metrics.
func (s *Source) readAll(ctx context.Context, why string) error {
	kvs, rev, cluster, err := readPrefix(ctx, s.cli, s.opts.Layout.Config())
	if err != nil {
		return err
	}
	s.stats.fullReads.WithLabelValues(why).Inc()
	s.mu.Lock()
	was := maps.Clone(s.selected)
	next := newKeys(s.opts.Layout)
	// A key refused keeps the value it had, if it had a good one.
	for name, e := range s.keys.good {
		next.good[name] = e
	}
	seen := make(map[string]bool, len(kvs))
	var changed []string
	for _, kv := range kvs {
		key := string(kv.Key)
		name, perr := next.put(key, kv.Value, kv.ModRevision)
		if perr != nil {
			s.log.Error("refused a key of the fleet's configuration; its last good value stays", "key", key, "err", perr)
		}
		if n, err := s.opts.Layout.nameOf(key); err == nil {
			seen[n] = true
		}
		if name != "" {
			changed = append(changed, name)
		}
	}
	for name := range next.good {
		if !seen[name] {
			delete(next.good, name)
			changed = append(changed, name)
		}
	}
	s.keys, s.rev, s.clusterID = next, rev, cluster
	s.copyDirty = true
	s.held = next.marker.State == markerApplying
	s.mu.Unlock()
	s.log.Info("read the fleet's configuration", "revision", rev, "keys", len(kvs), "reason", why)
	if s.d != nil {
		s.put(changed, was)
	}
	return nil
}

// readPrefix reads every key under prefix at one revision, in pages.
func readPrefix(ctx context.Context, cli *clientv3.Client, prefix string) ([]*mvccpb.KeyValue, int64, uint64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	var out []*mvccpb.KeyValue
	var rev int64
	var cluster uint64
	for key := prefix; ; {
		// Linearizable (not serializable): a read must not be older than
		// what the director had.
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, key, opts...)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("reading %s: %w", prefix, err)
		}
		if rev == 0 {
			rev, cluster = resp.Header.Revision, resp.Header.ClusterId
		}
		out = append(out, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, cluster, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Run keeps the director d's configuration as etcd says until ctx ends:
// it watches the configuration from the revision it has (resuming there
// after etcd was gone, reading everything again only when that revision
// was compacted), writes the director's state under a lease, and keeps
// the local copy. When it ends, the lease is revoked, so that the
// director's state leaves at once.
func (s *Source) Run(ctx context.Context, d Director) error {
	s.applyMu.Lock()
	s.d = d
	s.applyMu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { s.report(ctx) })
	defer wg.Wait()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := s.watch(ctx); err != nil && ctx.Err() == nil {
			s.unreachable(err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	return nil
}

// watch watches the configuration from the revision after the one the
// director has, until the watch fails or ctx ends; it reads everything
// first when that revision was compacted or etcd is no longer the one
// it was.
func (s *Source) watch(ctx context.Context) error {
	s.mu.Lock()
	rev := s.rev
	s.mu.Unlock()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(wctx, s.opts.Layout.Config(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithCreatedNotify())
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-s.reread:
			return s.readAll(ctx, "reset")
		case resp, ok = <-wch:
		}
		if !ok {
			return errors.New("the watch ended")
		}
		if resp.CompactRevision != 0 {
			s.log.Warn("the revision the director had was compacted: reading everything again", "revision", rev, "compacted", resp.CompactRevision)
			return s.readAll(ctx, "compacted")
		}
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return s.readAll(ctx, "compacted")
			}
			return fmt.Errorf("watching %s: %w", s.opts.Layout.Config(), err)
		}
		s.reachable()
		if s.differentCluster(resp.Header.ClusterId, resp.Header.Revision) {
			return s.readAll(ctx, "reset")
		}
		events := resp.Events
		// Take what else has come already in one go.
	more:
		for {
			select {
			case next, ok := <-wch:
				if !ok || next.CompactRevision != 0 || next.Err() != nil {
					s.take(events)
					if !ok {
						return errors.New("the watch ended")
					}
					if next.CompactRevision != 0 {
						return s.readAll(ctx, "compacted")
					}
					return fmt.Errorf("watching %s: %w", s.opts.Layout.Config(), next.Err())
				}
				events = append(events, next.Events...)
			default:
				break more
			}
		}
		if len(events) > 0 {
			s.take(events)
			s.mu.Lock()
			rev = s.rev
			s.mu.Unlock()
		}
	}
}

// differentCluster reports whether a header comes from another etcd
// than the one read (another cluster, or one restored to an older
// revision), where the revision the director has means nothing.
func (s *Source) differentCluster(cluster uint64, rev int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.clusterID != 0 && cluster != 0 && cluster != s.clusterID:
		s.log.Warn("etcd is another cluster: reading everything again", "cluster", cluster, "was", s.clusterID)
		return true
	case rev != 0 && rev < s.rev:
		s.log.Warn("etcd's revision went back: reading everything again", "revision", rev, "had", s.rev)
		return true
	}
	return false
}

// take takes the events of the watch and puts in force what changed.
func (s *Source) take(events []*clientv3.Event) {
	s.mu.Lock()
	was := maps.Clone(s.selected)
	wasHeld := s.held
	var changed []string
	for _, ev := range events {
		key := string(ev.Kv.Key)
		var name string
		if ev.Type == clientv3.EventTypeDelete {
			name = s.keys.del(key)
		} else {
			var err error
			if name, err = s.keys.put(key, ev.Kv.Value, ev.Kv.ModRevision); err != nil {
				s.log.Error("refused a key of the fleet's configuration; its last good value stays", "key", key, "err", err)
			}
		}
		if name != "" {
			changed = append(changed, name)
		}
		s.rev = max(s.rev, ev.Kv.ModRevision)
	}
	s.stats.events.Add(float64(len(events)))
	s.held = s.keys.marker.State == markerApplying
	if wasHeld && !s.held {
		// What was held back comes in force whole.
		for name := range s.keys.good {
			changed = append(changed, name)
		}
	}
	s.mu.Unlock()
	s.put(changed, was)
}

// unreachable records that etcd did not answer.
func (s *Source) unreachable(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.err = err.Error()
	if s.conn.up || s.conn.since.IsZero() {
		s.conn.up, s.conn.since = false, time.Now()
		s.log.Warn("etcd unreachable: the last good configuration stays in force, its checks run and the table follows them",
			"revision", s.rev, "err", err)
	}
}

// reachable records that etcd answered.
func (s *Source) reachable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	lost := s.conn.err
	s.conn.lastContact, s.conn.err = now, ""
	if !s.conn.up {
		if !s.conn.since.IsZero() {
			s.lastOutage = &Outage{From: s.conn.since, To: now, Error: lost}
			s.log.Info("etcd reachable again", "after", now.Sub(s.conn.since).Round(time.Millisecond), "revision", s.rev)
		}
		s.conn.up, s.conn.since = true, now
	}
}
