package keepalived

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a configuration: a file and a 1-based line.
type Pos struct {
	File string
	Line int
}

// String returns "FILE:LINE".
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Severity says what a Diagnostic means for the import.
type Severity int

// Severities, from the mildest.
const (
	// Note is information: something skipped on purpose, such as the
	// VRRP half, or a default that ipvsd writes differently.
	Note Severity = iota
	// Warning is a directive that is not carried over, or not exactly:
	// the imported configuration behaves differently there.
	Warning
	// Error is input the importer cannot read as keepalived would; the
	// import fails.
	Error
)

// String returns "note", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Note:
		return "note"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Diagnostic is one thing the importer says about a place in the input.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	// Keyword is the directive it is about, such as "smtp_alert", or ""
	// when it is about the file.
	Keyword string
	Message string
}

// String returns "FILE:LINE: SEVERITY: KEYWORD: MESSAGE".
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Pos.File != "" {
		b.WriteString(d.Pos.String())
		b.WriteString(": ")
	}
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	if d.Keyword != "" {
		b.WriteString(d.Keyword)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics are what an import found, in the order of the input.
type Diagnostics []Diagnostic

// Errors returns the diagnostics of severity Error.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// String lists the diagnostics one a line.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ImportError is the error of an import that found input it cannot read:
// its Diagnostics hold every error, and the warnings and notes found
// before the import stopped.
type ImportError struct {
	Diagnostics Diagnostics
}

// maxListed is how many errors ImportError.Error lists before it counts
// the rest.
const maxListed = 20

// Error lists the errors, the first maxListed of them.
func (e *ImportError) Error() string {
	errs := e.Diagnostics.Errors()
	var b strings.Builder
	for i, d := range errs {
		if i == maxListed {
			fmt.Fprintf(&b, "\n... and %d more errors", len(errs)-maxListed)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// report collects diagnostics, bounded so that a hostile input cannot
// make it grow without end.
type report struct {
	diags   Diagnostics
	dropped int
}

// maxDiagnostics bounds a report: far more than any real file produces.
const maxDiagnostics = 10000

func (r *report) add(pos Pos, sev Severity, keyword, format string, args ...any) {
	if len(r.diags) >= maxDiagnostics {
		r.dropped++
		return
	}
	r.diags = append(r.diags, Diagnostic{Pos: pos, Severity: sev, Keyword: keyword, Message: fmt.Sprintf(format, args...)})
}

func (r *report) errorf(pos Pos, keyword, format string, args ...any) {
	r.add(pos, Error, keyword, format, args...)
}

func (r *report) warnf(pos Pos, keyword, format string, args ...any) {
	r.add(pos, Warning, keyword, format, args...)
}

func (r *report) notef(pos Pos, keyword, format string, args ...any) {
	r.add(pos, Note, keyword, format, args...)
}

func (r *report) failed() bool {
	return slices.ContainsFunc(r.diags, func(d Diagnostic) bool { return d.Severity == Error })
}

// sorted returns the diagnostics in the order of the input: by file as
// first met, then line; a report's own order breaks ties.
func (r *report) sorted(files []string) Diagnostics {
	rank := map[string]int{}
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	out := slices.Clone(r.diags)
	slices.SortStableFunc(out, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(rank[a.Pos.File], rank[b.Pos.File]), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
	if r.dropped > 0 {
		out = append(out, Diagnostic{Severity: Error, Message: fmt.Sprintf("%d more diagnostics left out", r.dropped)})
	}
	return out
}
