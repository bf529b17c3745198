package main

import (
	"bufio"
	"fmt"
	"runtime"
	"strings"

	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// chunkLines is how many lines of a restore one worker parses at a time.
const chunkLines = 1024

// chunk is a run of a restore's lines and, once done is closed, what
// they parse to, or the first refusal among them.
type chunk struct {
	first   int // the number of the first line
	lines   []string
	cmds    []*cli.Command
	numbers []int
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
	for i, line := range c.lines {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		argv = argv[:1]
		for _, w := range strings.Fields(line) {
			if w != "ipvsadm" {
				argv = append(argv, w)
			}
		}
		if len(argv) == 1 {
			continue
		}
		cmd, err := cli.ParseRestore(argv)
		if err != nil {
			c.err, c.errLine = err, c.first+i
			return
		}
		c.cmds = append(c.cmds, cmd)
		c.numbers = append(c.numbers, c.first+i)
	}
}

// readRestore reads the lines of a restore and hands each parsed line to
// apply, in order. Lines are parsed in chunks by a worker per CPU; the
// first refusal, in line order, ends the reading before apply sees that
// line.
func (e *env) readRestore(apply func(lineNo int, cmd *cli.Command) error) int {
	workers := runtime.GOMAXPROCS(0)
	ordered := make(chan *chunk, 2*workers)
	work := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	defer close(stop)
	var readErr error
	go func() {
		defer close(ordered)
		defer close(work)
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		c := &chunk{first: 1, done: make(chan struct{})}
		send := func() bool {
			select {
			case ordered <- c:
			case <-stop:
				return false
			}
			work <- c
			return true
		}
		n := 1
		for ; sc.Scan(); n++ {
			c.lines = append(c.lines, sc.Text())
			if len(c.lines) == chunkLines {
				if !send() {
					return
				}
				c = &chunk{first: n + 1, done: make(chan struct{})}
			}
		}
		readErr = sc.Err()
		send()
	}()
	for range workers {
		go func() {
			for c := range work {
				c.parse(e.program)
			}
		}()
	}
	for c := range ordered {
		<-c.done
		for i, cmd := range c.cmds {
			if err := apply(c.numbers[i], cmd); err != nil {
				fmt.Fprintf(e.errw, "line %d: %v\n", c.numbers[i], err)
				return 255
			}
		}
		if c.err != nil {
			fmt.Fprintf(e.errw, "line %d: ", c.errLine)
			return e.refused(c.err)
		}
	}
	// ordered is closed after the reader's last write of readErr.
	if readErr != nil {
		fmt.Fprintln(e.errw, readErr)
		return 1
	}
	return 0
}
