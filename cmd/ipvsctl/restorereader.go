package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

const (
	// chunkLines is how many lines of a restore one worker parses at a
	// time.
	chunkLines = 512
	// maxLine is the longest line a restore reads.
	maxLine = 1 << 20
)

// chunk is a run of a restore's lines and, once done is closed, what
// they parse to, or the first refusal among them.
type chunk struct {
	first   int    // the number of the first line
	lines   int    // how many lines
	text    string // the lines, each ending in a newline
	cmds    []cli.Command
	numbers []int32
	// recs holds the record of each destination line's destination,
	// made here rather than in the line's turn (see apply).
	recs    []dest
	err     error
	errLine int
	done    chan struct{}
}

// parse parses the chunk's lines as ipvsadm's config_stream splits them:
// words between blanks, the word "ipvsadm" dropped, empty lines skipped.
// Unlike ipvsadm, a line starting with '#' is a comment.
func (c *chunk) parse(program string) {
	defer close(c.done)
	argv := []string{program}
	rest := c.text
	if cap(c.cmds) < c.lines {
		c.cmds = make([]cli.Command, 0, c.lines)
		c.recs = make([]dest, 0, c.lines)
	}
	for n := c.first; rest != ""; n++ {
		end := strings.IndexByte(rest, '\n')
		line := strings.TrimSpace(rest[:end])
		rest = rest[end+1:]
		if line == "" || line[0] == '#' {
			continue
		}
		argv = argv[:1]
		for w := range strings.FieldsSeq(line) {
			if w != "ipvsadm" {
				argv = append(argv, w)
			}
		}
		if len(argv) == 1 {
			continue
		}
		c.cmds = append(c.cmds, cli.Command{})
		if err := cli.ParseRestoreTo(&c.cmds[len(c.cmds)-1], argv); err != nil {
			c.cmds = c.cmds[:len(c.cmds)-1]
			c.err, c.errLine = err, n
			return
		}
		c.numbers = append(c.numbers, int32(n))
		var rec dest
		if cmd := &c.cmds[len(c.cmds)-1]; cmd.Cmd == cli.CmdAddDest || cmd.Cmd == cli.CmdEditDest {
			rec = destOf(&cmd.Dest, cmd.Service.Key(), n)
		}
		c.recs = append(c.recs, rec)
	}
}

var errLongLine = errors.New("longer than 1 MiB")

// lineError is a line of the input that cannot be read at all.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// readChunks cuts r into chunks of lines and sends each to ordered and
// then to work, until the input ends, a line is too long, or stop is
// closed; it returns why it ended (nil at the end of the input). It
// takes the chunks from free when there are, for their room.
func readChunks(r io.Reader, ordered, work chan<- *chunk, free <-chan *chunk, stop <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	var long []byte
	lines, n := 0, 1
	send := func() bool {
		if len(buf) == 0 {
			return true
		}
		var c *chunk
		select {
		case c = <-free:
			c.cmds, c.numbers, c.recs, c.err, c.errLine = c.cmds[:0], c.numbers[:0], c.recs[:0], nil, 0
		default:
			c = &chunk{}
		}
		c.first, c.lines, c.text, c.done = n-lines, lines, string(buf), make(chan struct{})
		buf, lines = buf[:0], 0
		select {
		case ordered <- c:
		case <-stop:
			return false
		}
		work <- c
		return true
	}
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(b) > maxLine {
				send()
				return &lineError{n, errLongLine}
			}
			long = append(long, b...)
			continue
		}
		if long != nil {
			b, long = append(long, b...), nil
		}
		if len(b) > maxLine {
			send()
			return &lineError{n, errLongLine}
		}
		if len(b) > 0 {
			buf = append(buf, b...)
			if b[len(b)-1] != '\n' {
				buf = append(buf, '\n')
			}
			lines++
			n++
		}
		if err == io.EOF {
			send()
			return nil
		}
		if err != nil {
			send()
			return err
		}
		if lines == chunkLines && !send() {
			return nil
		}
	}
}

// readRestore reads the lines of a restore and hands each parsed line to
// apply, in order, with the record of its destination for -a and -e. Lines are parsed in chunks by a worker per CPU; the
// first refusal, in line order, ends the reading before apply sees that
// line. A signal ends it too, even while the input is silent.
func (e *env) readRestore(apply func(lineNo int, cmd *cli.Command, rec *dest) error) int {
	workers := runtime.GOMAXPROCS(0)
	ordered := make(chan *chunk, 2*workers)
	work := make(chan *chunk, 2*workers)
	free := make(chan *chunk, 3*workers)
	stop := make(chan struct{})
	defer close(stop)
	var readErr error
	go func() {
		defer close(ordered)
		defer close(work)
		readErr = readChunks(e.stdin, ordered, work, free, stop)
	}()
	for range workers {
		go func() {
			for c := range work {
				c.parse(e.program)
			}
		}()
	}
	for {
		var c *chunk
		var ok bool
		select {
		case c, ok = <-ordered:
		case <-e.ctx.Done():
			return e.interrupted()
		}
		if !ok {
			break
		}
		select {
		case <-c.done:
		case <-e.ctx.Done():
			return e.interrupted()
		}
		for i := range c.cmds {
			var rec *dest
			if c.cmds[i].Cmd == cli.CmdAddDest || c.cmds[i].Cmd == cli.CmdEditDest {
				rec = &c.recs[i]
			}
			if err := apply(int(c.numbers[i]), &c.cmds[i], rec); err != nil {
				fmt.Fprintf(e.errw, "line %d: %v\n", c.numbers[i], err)
				return 255
			}
		}
		if c.err != nil {
			fmt.Fprintf(e.errw, "line %d: ", c.errLine)
			return e.refused(c.err)
		}
		// apply keeps nothing of a line that points into its chunk.
		select {
		case free <- c:
		default:
		}
	}
	// ordered is closed after the reader's last write of readErr.
	if readErr != nil {
		fmt.Fprintln(e.errw, readErr)
		var le *lineError
		if errors.As(readErr, &le) {
			return 255
		}
		return 1
	}
	return 0
}
