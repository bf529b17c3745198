package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// report writes the director's state under its lease, when it changed,
// keeps the lease alive, and keeps the local copy, until ctx ends; then
// it revokes the lease, so that the state leaves at once. The lease's
// keep-alives are the director's only periodic requests to etcd.
func (s *Source) report(ctx context.Context) {
	ticker := time.NewTicker(s.opts.StatusInterval)
	defer ticker.Stop()
	ttl := s.opts.LeaseTTL
	key := s.opts.Layout.Director(s.Node())
	var lease clientv3.LeaseID
	var renewed time.Time
	var written []byte
	for {
		select {
		case <-ctx.Done():
			s.writeCopy()
			if lease != 0 {
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, _ = s.cli.Revoke(rctx, lease)
				cancel()
			}
			return
		case <-ticker.C:
		}
		s.writeCopy()
		rctx, cancel := context.WithTimeout(ctx, max(ttl/3, time.Second))
		lease, renewed, written = s.reportOnce(rctx, key, lease, renewed, written)
		cancel()
	}
}

// reportOnce keeps the lease (granting a new one when it expired) and
// writes the state if it changed; it returns the lease, when it was
// renewed, and the state written.
func (s *Source) reportOnce(ctx context.Context, key string, lease clientv3.LeaseID, renewed time.Time, written []byte) (clientv3.LeaseID, time.Time, []byte) {
	ttl := s.opts.LeaseTTL
	now := time.Now()
	switch {
	case lease == 0:
		resp, err := s.cli.Grant(ctx, int64(max(ttl/time.Second, 2)))
		if err != nil {
			s.unreachable(err)
			return 0, renewed, written
		}
		s.reachable()
		lease, renewed, written = resp.ID, now, nil
	case now.Sub(renewed) >= ttl/3:
		resp, err := s.cli.KeepAliveOnce(ctx, lease)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// It expired while etcd could not hear the director.
			s.reachable()
			s.log.Info("the director's lease expired: writing its state under a new one")
			return 0, renewed, nil
		}
		if err != nil {
			s.unreachable(err)
			return lease, renewed, written
		}
		s.reachable()
		renewed = now
		if s.differentCluster(resp.ClusterId, resp.Revision) {
			select {
			case s.reread <- struct{}{}:
			default:
			}
		}
	}
	ds := s.directorState()
	b, _ := json.Marshal(ds)
	if bytes.Equal(b, written) {
		return lease, renewed, written
	}
	s.mu.Lock()
	ds.LastOutage = s.lastOutage
	s.mu.Unlock()
	ds.Updated = now
	full, _ := json.Marshal(ds)
	if _, err := s.cli.Put(ctx, key, string(full), clientv3.WithLease(lease)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return 0, renewed, nil
		}
		s.unreachable(err)
		return lease, renewed, written
	}
	s.stats.statusWrites.Inc()
	return lease, renewed, b
}
