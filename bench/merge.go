//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// A note says how the runs of one suite, merged in after make bench,
// were made (the machine's load, what was left out); the report prints
// it under the suite's title. Notes live in the results file as lines
// "NOTE {json}", beside the RESULT lines.
type note struct {
	Group string `json:"group"`
	Text  string `json:"text"`
}

// runKey is what a run of a suite replaces when merged: its results of
// the same suite and size.
type runKey struct {
	group           string
	services, dests int
}

// merge puts the RESULT lines of the file add (a log of some suites'
// runs) into the results file in, in place of in's results of the same
// suites and sizes, and with text as the note of each suite added (in
// place of its earlier note; an empty text drops it). Everything else in
// in stays as it was.
func merge(in, add, text string) error {
	old, err := readLines(in)
	if err != nil {
		return err
	}
	added, err := readLines(add)
	if err != nil {
		return err
	}
	replaced := map[runKey]bool{}
	var groups []string
	var fresh []string
	for _, l := range added {
		if r, ok := parseResult(l); ok {
			replaced[runKey{r.Group, r.Services, r.Dests}] = true
			if !slices.Contains(groups, r.Group) {
				groups = append(groups, r.Group)
			}
			fresh = append(fresh, l)
		}
	}
	if len(fresh) == 0 {
		return fmt.Errorf("%s: no RESULT lines", add)
	}
	var out []string
	for _, l := range old {
		if r, ok := parseResult(l); ok && replaced[runKey{r.Group, r.Services, r.Dests}] {
			continue
		}
		if n, ok := parseNote(l); ok && slices.Contains(groups, n.Group) {
			continue
		}
		out = append(out, l)
	}
	out = append(out, fresh...)
	if text != "" {
		for _, g := range groups {
			b, _ := json.Marshal(note{Group: g, Text: text})
			out = append(out, "NOTE "+string(b))
		}
	}
	return os.WriteFile(in, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}

// readLines returns the lines of a file, without their ends.
func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, nil
}

// parseResult reads a "RESULT {json}" line.
func parseResult(line string) (result, bool) {
	var r result
	rest, ok := strings.CutPrefix(line, "RESULT ")
	return r, ok && json.Unmarshal([]byte(rest), &r) == nil
}

// parseNote reads a "NOTE {json}" line.
func parseNote(line string) (note, bool) {
	var n note
	rest, ok := strings.CutPrefix(line, "NOTE ")
	return n, ok && json.Unmarshal([]byte(rest), &n) == nil
}
