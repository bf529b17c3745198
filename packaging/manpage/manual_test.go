package main

import (
	"strings"
	"testing"
)

func TestFromManual(t *testing.T) {
	help := `NAME
    prog - does things

SYNOPSIS
    prog -a [-b n]
            [--long]

OPTIONS
    --alpha        -a               the first, with a
                                    second line
    --beta|-b n                     b's value
    A paragraph after the table,
    on two lines.

DATA
    {"a": [1,
      2]}
`
	got, err := fromManual(help, "prog", ".TH X\n")
	if err != nil {
		t.Fatal(err)
	}
	want := `.TH X
.SH "NAME"
.PP
prog \- does things
.SH "SYNOPSIS"
.nf
prog \-a [\-b n]
        [\-\-long]
.fi
.SH "OPTIONS"
.TP
\fB\-\-alpha \-a\fR
the first,\: with a
second line
.TP
\fB\-\-beta|\-b n\fR
b's value
.PP
A paragraph after the table,\:
on two lines.
.SH "DATA"
.nf
{"a": [1,
  2]}
.fi
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{"  indented before a heading\n", "NAME\n  two spaces\n", "DESCRIPTION\n    text\n"} {
		if _, err := fromManual(bad, "prog", ".TH X\n"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if !strings.Contains(escape(`.a\b`), `\&.a\eb`) {
		t.Errorf("escape %q", escape(`.a\b`))
	}
}
