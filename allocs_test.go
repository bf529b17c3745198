package ipvs

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// ackSocket acknowledges every request without allocating, so that what
// a call allocates is the client's alone.
type ackSocket struct {
	ack    [36]byte
	queued bool
}

func (s *ackSocket) Send(b []byte, _ bool) error {
	// An NLMSG_ERROR of errno 0 (an ACK), capped, for the request's
	// sequence number.
	binary.NativeEndian.PutUint32(s.ack[0:], uint32(len(s.ack)))
	binary.NativeEndian.PutUint16(s.ack[4:], nlmsg.TypeError)
	binary.NativeEndian.PutUint16(s.ack[6:], nlmsg.FlagCapped)
	copy(s.ack[8:12], b[8:12])
	binary.NativeEndian.PutUint32(s.ack[12:], testPortID)
	copy(s.ack[20:], b[:16])
	s.queued = true
	return nil
}

func (s *ackSocket) Recv(b []byte, _ bool) (int, error) {
	if !s.queued {
		return 0, seam.ErrWouldBlock
	}
	s.queued = false
	return copy(b, s.ack[:]), nil
}

func (s *ackSocket) SetDeadline(time.Time) error { return nil }
func (s *ackSocket) PortID() uint32              { return testPortID }
func (s *ackSocket) Buffers() (int, int)         { return 1 << 20, 1 << 20 }
func (s *ackSocket) Close() error                { return nil }

// TestSingleWriteAllocations pins what a single write allocates: nothing
// on its way through validation, encoding, the exchange and the pool.
func TestSingleWriteAllocations(t *testing.T) {
	c := newClientWith(&Config{}, func() (seam.Socket, error) { return &ackSocket{}, nil }, family{id: testFamilyID, version: ipvsh.GenlVersion})
	defer c.Close()
	ctx := context.Background()
	cctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		call func(ctx context.Context) error
	}{
		{"create service", ctx, func(ctx context.Context) error { return c.CreateService(ctx, sip) }},
		{"update destination", ctx, func(ctx context.Context) error { return c.UpdateDestination(ctx, tcp4, masq4) }},
		{"remove destination", ctx, func(ctx context.Context) error { return c.RemoveDestination(ctx, tcp4, masq4) }},
		{"remove service, with a deadline", cctx, func(ctx context.Context) error { return c.RemoveService(ctx, tcp4) }},
	} {
		var err error
		n := testing.AllocsPerRun(200, func() { err = tt.call(tt.ctx) })
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Logf("%s: %v allocations", tt.name, n)
		if n > 1 {
			t.Errorf("%s: %v allocations per call, want at most 1", tt.name, n)
		}
	}
}
