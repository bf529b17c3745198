package config

import (
	"fmt"
	"strings"
)

// Error is one problem with a configuration: where it is (the file, or
// the source of a virtual server such as an etcd key, with the line and
// column), which field, and what is wrong.
type Error struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"` // 1-based; 0 when the problem has no single place
	Column int    `json:"column,omitempty"`
	// Field is the path of the field, such as
	// "virtual_servers[0].real_servers[2].weight", or "" for the
	// document as a whole.
	Field string `json:"field,omitempty"`
	// Message says what is wrong, quoting the value.
	Message string `json:"message"`
}

// Error returns "FILE:LINE:COLUMN: FIELD: MESSAGE", leaving out what is
// unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors are the problems found in a configuration, in the order of the
// file. A configuration with any is refused whole.
type Errors []*Error

// maxErrors is how many problems Errors lists before it counts the rest:
// enough to fix a file in one pass, not so many that a file of the wrong
// kind floods the terminal.
const maxErrors = 20

// Error lists the problems one a line, the first maxErrors of them.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i == maxErrors {
			fmt.Fprintf(&b, "\n... and %d more", len(es)-maxErrors)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.As finds an *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
