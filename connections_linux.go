//go:build linux

package ipvs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
)

// Connections returns an iterator over the entries of the namespace's
// IPVS connection table that f selects, parsed as they are read, so that
// memory stays flat whatever the table's size. An error ends the
// iteration. ctx is checked between chunks of lines; a read(2) under way
// is not interrupted, but each is short (see below).
//
// The kernel has no netlink command for this table: it is the procfs
// files /proc/net/ip_vs_conn (which has the persistence engine data) and
// /proc/net/ip_vs_conn_sync (which has the origin), both read here, side
// by side, opened in the client's namespace. What that costs: the kernel
// keeps one hash table for the connections of every namespace, and each
// read(2) returns at most a page of text (4 KiB: about 50 IPv4 entries,
// 25 IPv6) after walking the table, under RCU, from its first bucket to
// the position reached, counting other namespaces' entries on the way.
// Reading n entries thus costs the kernel time in O(N·n/50), N the
// entries of all namespaces, twice over (once per file), and then the
// text is printed and parsed. As with any dump, entries that come or go
// during the read may be missed or seen twice. For counts per
// destination, the netlink counters (Destination.ActiveConnections,
// InactiveConnections, PersistentConnections) cost far less.
func (c *Client) Connections(ctx context.Context, f ConnectionFilter) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		m, err := c.connMatcher(ctx, f)
		if err != nil {
			yield(Connection{}, err)
			return
		}
		plain, sync, err := c.openConnTables()
		if err != nil {
			yield(Connection{}, err)
			return
		}
		defer plain.Close()
		defer sync.Close()
		for conn, err := range scanConnections(ctx, plain, sync) {
			if err != nil {
				yield(Connection{}, &Error{Op: opConnections, Err: err})
				return
			}
			if m.match(&conn) && !yield(conn, nil) {
				return
			}
		}
	}
}

// ConnectionStates returns how many entries of the connection table f
// selects are in each state, by the kernel's state names (see
// Connection.State). It reads the whole table, as Connections does.
func (c *Client) ConnectionStates(ctx context.Context, f ConnectionFilter) (map[string]int, error) {
	states := map[string]int{}
	for conn, err := range c.Connections(ctx, f) {
		if err != nil {
			return nil, err
		}
		states[conn.State]++
	}
	return states, nil
}

const opConnections = "list connections"

// openConnTables opens both tables in the client's namespace; the open
// files stay bound to it, whichever thread reads them.
func (c *Client) openConnTables() (plain, sync *os.File, err error) {
	err = c.inNetNS(func() error {
		if plain, err = os.Open("/proc/thread-self/net/ip_vs_conn"); err != nil {
			return err
		}
		if sync, err = os.Open("/proc/thread-self/net/ip_vs_conn_sync"); err != nil {
			plain.Close()
			return err
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNoIPVS, err)
		}
		return nil, nil, &Error{Op: opConnections, Err: err}
	}
	return plain, sync, nil
}

// connMatcher reads what f needs from the kernel: a fwmark service's
// destinations.
func (c *Client) connMatcher(ctx context.Context, f ConnectionFilter) (*connMatcher, error) {
	// The table's IPv4 addresses are plain ones: unmap the filter's.
	f.Destination = netip.AddrPortFrom(f.Destination.Addr().Unmap(), f.Destination.Port())
	f.Service.Address = f.Service.Address.Unmap()
	m := &connMatcher{f: f}
	svc := f.Service
	if svc.FWMark == 0 {
		return m, nil
	}
	dests, err := c.Destinations(ctx, svc)
	if err != nil {
		return nil, err
	}
	m.dests = make(map[netip.AddrPort]bool, len(dests))
	for _, d := range dests {
		m.dests[netip.AddrPortFrom(d.Address, d.Port)] = true
	}
	m.template = fwmarkTemplateAddr(svc)
	return m, nil
}

// connMatcher is a ConnectionFilter made ready to match.
type connMatcher struct {
	f ConnectionFilter
	// dests are a fwmark service's destinations; template is the address
	// that holds the mark in its persistence templates.
	dests    map[netip.AddrPort]bool
	template netip.Addr
}

// fwmarkTemplateAddr is the virtual address of a fwmark service's
// persistence templates: ip_vs_sched_persist puts the mark, in network
// order, in the first four bytes of the address.
func fwmarkTemplateAddr(svc Service) netip.Addr {
	m := svc.FWMark
	b := [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
	if svc.Family == FamilyIPv6 {
		var a [16]byte
		copy(a[:], b[:])
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4(b)
}

// match reports whether the filter selects c.
func (m *connMatcher) match(c *Connection) bool {
	if d := m.f.Destination; d.IsValid() {
		if c.Destination.Addr() != d.Addr() || d.Port() != 0 && c.Destination.Port() != d.Port() {
			return false
		}
	}
	svc := &m.f.Service
	if svc.FWMark != 0 {
		if c.Protocol == 0 && c.Virtual.Addr() == m.template {
			return true
		}
		return m.dests[c.Destination] || m.dests[netip.AddrPortFrom(c.Destination.Addr(), 0)]
	}
	if svc.Protocol != 0 && c.Protocol != svc.Protocol {
		return false
	}
	if svc.Address.IsValid() && c.Virtual.Addr() != svc.Address {
		return false
	}
	return svc.Port == 0 || c.Virtual.Port() == svc.Port
}

// syncWindow is how many lines of ip_vs_conn_sync may be held to find
// the one that matches a line of ip_vs_conn. The two files are read side
// by side, a page of each at a time, so they see the table at nearly the
// same time: an entry may be in one and not in the other, and a read may
// repeat or skip one when an entry before its position came or went, but
// the order of the others is the same. Only a run of more than this many
// entries, in a row in the table's order, that went in that moment makes
// the entries after it read as not synced.
const syncWindow = 256

// scanConnections parses the two tables side by side, taking Synced from
// sync's line for the same entry. A nil sync leaves Synced false.
func scanConnections(ctx context.Context, plain, sync io.Reader) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		lines := newLineReader(plain, connPlain)
		var origins *originWindow
		if sync != nil {
			origins = &originWindow{r: newLineReader(sync, connSync)}
		}
		var c Connection
		for {
			if lines.n%64 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Connection{}, err)
					return
				}
			}
			line, err := lines.next()
			if err == io.EOF {
				return
			}
			if err == nil {
				err = parseConnLine(line, connPlain, &c)
			}
			if err == nil && origins != nil {
				c.Synced, err = origins.synced(line[:connKeyEnd(line)])
			}
			if err != nil {
				yield(Connection{}, lines.wrap(err))
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// lineReader reads a table's lines after checking its header.
type lineReader struct {
	r      *bufio.Reader
	format connFormat
	n      int // lines read
}

func newLineReader(r io.Reader, f connFormat) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 16<<10), format: f}
}

// next returns the next entry's line, without its newline, valid until
// the next call; io.EOF at the end.
func (l *lineReader) next() ([]byte, error) {
	line, err := l.r.ReadSlice('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		if err == bufio.ErrBufferFull {
			err = errors.New("line too long")
		}
		if err == io.EOF && l.n == 0 {
			err = errors.New("no header")
		}
		l.n++
		return nil, err
	}
	l.n++
	line = bytes.TrimSuffix(line, []byte("\n"))
	if l.n == 1 {
		want := connHeader
		if l.format == connSync {
			want = connSyncHeader
		}
		if string(line) != want {
			return nil, fmt.Errorf("header %q is not %q", line, want)
		}
		return l.next()
	}
	return line, nil
}

// wrap says which line of which table an error is about.
func (l *lineReader) wrap(err error) error {
	name := "ip_vs_conn"
	if l.format == connSync {
		name = "ip_vs_conn_sync"
	}
	return fmt.Errorf("%s line %d: %w", name, l.n, err)
}

// originWindow finds, in ip_vs_conn_sync, the origin of the entries of
// ip_vs_conn, holding at most syncWindow of its lines.
type originWindow struct {
	r     *lineReader
	lines [][]byte // held lines, oldest first
	nums  []int    // their line numbers
	spare [][]byte // buffers of dropped lines, for reuse
	eof   bool
}

// synced returns the origin of the entry whose key is key, or false if
// the window does not hold it (it came or went between the two reads).
func (w *originWindow) synced(key []byte) (bool, error) {
	for !w.eof && len(w.lines) < syncWindow {
		line, err := w.r.next()
		if err == io.EOF {
			w.eof = true
			break
		}
		if err != nil {
			return false, w.r.wrap(err)
		}
		var buf []byte
		if n := len(w.spare); n > 0 {
			buf, w.spare = w.spare[n-1], w.spare[:n-1]
		}
		w.lines = append(w.lines, append(buf[:0], line...))
		w.nums = append(w.nums, w.r.n)
	}
	for i, line := range w.lines {
		if !bytes.Equal(line[:connKeyEnd(line)], key) {
			continue
		}
		var c Connection
		err := parseConnLine(line, connSync, &c)
		if err != nil {
			err = fmt.Errorf("ip_vs_conn_sync line %d: %w", w.nums[i], err)
		}
		// Lines before it are entries gone from ip_vs_conn: drop them.
		w.spare = append(w.spare, w.lines[:i+1]...)
		w.lines = append(w.lines[:0], w.lines[i+1:]...)
		w.nums = append(w.nums[:0], w.nums[i+1:]...)
		return c.Synced, err
	}
	// Not held: the entry is new since sync's read. (Or more entries
	// went, in a row, than the window holds: nothing tells the two apart
	// without holding plain's lines too, and that does not happen
	// between two reads this close.)
	return false, nil
}
