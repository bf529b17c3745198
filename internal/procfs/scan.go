package procfs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// The connection table read whole: its two files side by side, a line at
// a time, each line through ParseLine.

// syncWindow is how many lines of ip_vs_conn_sync may be held to find
// the one that matches a line of ip_vs_conn. The two files are read side
// by side, a page of each at a time, so they see the table at nearly the
// same time: an entry may be in one and not in the other, and a read may
// repeat or skip one when an entry before its position came or went, but
// the order of the others is the same. Only a run of more than this many
// entries, in a row in the table's order, that went in that moment makes
// the entries after it read as not synced.
const syncWindow = 256

// Scan parses the two tables side by side, taking Synced from
// sync's line for the same entry. A nil sync leaves Synced false.
func Scan(ctx context.Context, plain, sync io.Reader) iter.Seq2[Conn, error] {
	return func(yield func(Conn, error) bool) {
		lines := newLineReader(plain, Plain)
		var origins *originWindow
		if sync != nil {
			origins = &originWindow{r: newLineReader(sync, Sync)}
		}
		var c Conn
		for {
			if lines.n%64 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Conn{}, err)
					return
				}
			}
			line, err := lines.next()
			if err == io.EOF {
				return
			}
			if err == nil {
				err = ParseLine(line, Plain, &c)
			}
			if err == nil && origins != nil {
				c.Synced, err = origins.synced(line[:keyEnd(line)])
			}
			if err != nil {
				yield(Conn{}, lines.wrap(err))
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
	format Format
	n      int // lines read
}

func newLineReader(r io.Reader, f Format) *lineReader {
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
		want := Header
		if l.format == Sync {
			want = SyncHeader
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
	if l.format == Sync {
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
		if !bytes.Equal(line[:keyEnd(line)], key) {
			continue
		}
		var c Conn
		err := ParseLine(line, Sync, &c)
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
