package keepalived

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// fsOf makes a file system of absolute paths and their contents.
func fsOf(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

// lex reads /k.conf of files and returns its statements, each as
// "FILE:LINE: TEXT", and the report.
func lex(t *testing.T, configID string, files map[string]string) ([]string, *report) {
	t.Helper()
	rep := &report{}
	l := &lexer{files: newFiles(fsOf(files)), rep: rep, configID: configID, defs: newDefinitions()}
	l.file("/k.conf", Pos{File: "/k.conf"})
	var out []string
	for _, s := range l.out {
		out = append(out, fmt.Sprintf("%s: %s", s.pos, s.text))
	}
	return out, rep
}

func TestLexer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{{
		name: "comments and blanks",
		files: map[string]string{"/k.conf": "# a comment\n  ! another\nvirtual_server 10.0.0.1 80 { # trailing\n\tlb_algo rr ! and here\n}\n\n" +
			"virtualhost \"a#b!c\" # quoted comment characters stay\n" + `path /x\#y` + "\r\n"},
		want: []string{"/k.conf:3: virtual_server 10.0.0.1 80", "/k.conf:3: {", "/k.conf:4: lb_algo rr", "/k.conf:5: }",
			`/k.conf:7: virtualhost "a#b!c"`, "/k.conf:8: path /x#y"},
	}, {
		name:  "braces split a line",
		files: map[string]string{"/k.conf": "real_server 10.0.0.2 80 { weight 2 TCP_CHECK { connect_port 81 } }\n"},
		want: []string{"/k.conf:1: real_server 10.0.0.2 80", "/k.conf:1: {", "/k.conf:1: weight 2 TCP_CHECK", "/k.conf:1: {",
			"/k.conf:1: connect_port 81", "/k.conf:1: }", "/k.conf:1: }"},
	}, {
		name: "include, relative, glob, braces",
		files: map[string]string{
			"/k.conf":            "a 1\ninclude conf.d/*.conf\nincluder /etc/{x,y}.conf\nb 2\n",
			"/conf.d/2.conf":     "two\ninclude ../etc/z.conf\n",
			"/conf.d/1.conf":     "one\n",
			"/conf.d/skip.txt":   "no\n",
			"/etc/x.conf":        "x\n",
			"/etc/y.conf":        "y\n",
			"/etc/z.conf":        "z\n",
			"/conf.d/sub/3.conf": "not matched\n",
		},
		want: []string{"/k.conf:1: a 1", "/conf.d/1.conf:1: one", "/conf.d/2.conf:1: two", "/etc/z.conf:1: z",
			"/etc/x.conf:1: x", "/etc/y.conf:1: y", "/k.conf:4: b 2"},
	}, {
		name:  "conditional lines",
		files: map[string]string{"/k.conf": "@main a\n@backup b\n@^main c\n@^backup d\n@main\n"},
		want:  []string{"/k.conf:1: a", "/k.conf:4: d"},
	}, {
		name: "definitions",
		files: map[string]string{"/k.conf": "$VIP=10.0.0.1\n$PORT=80\nvirtual_server $VIP $PORT\nx ${VIP}:${PORT} $UNDEF ${_HASH}\n" +
			"$RS= \\\n  real_server ${ADDR} 80 { \\\n    weight 1 \\\n  }\n$ADDR=10.1.0.1\n$RS\n$ADDR=10.1.0.2\n$RS\n$P=${_PWD}/x\npath $P\n"},
		want: []string{"/k.conf:3: virtual_server 10.0.0.1 80", "/k.conf:4: x 10.0.0.1:80 $UNDEF",
			"/k.conf:10: real_server 10.1.0.1 80", "/k.conf:10: {", "/k.conf:10: weight 1", "/k.conf:10: }",
			"/k.conf:12: real_server 10.1.0.2 80", "/k.conf:12: {", "/k.conf:12: weight 1", "/k.conf:12: }",
			"/k.conf:14: path //x"},
	}, {
		name: "sequences and lists",
		files: map[string]string{"/k.conf": "~SEQ(N, 1, 3) real_server 10.0.0.$N 80\n~SEQx(H, 9, 11) h $H\n~SEQ(D, 2) d $D\n" +
			"~LST(P, 80, 443) port $P\n~LST({A, B}, {1, 2}, {3}) ab ${A}-${B}\n~SEQ(X, 1, 2) ~LST(Y, a, b) ${X}${Y}\n"},
		want: []string{"/k.conf:1: real_server 10.0.0.1 80", "/k.conf:1: real_server 10.0.0.2 80", "/k.conf:1: real_server 10.0.0.3 80",
			"/k.conf:2: h 9", "/k.conf:2: h a", "/k.conf:2: h b", "/k.conf:3: d 1", "/k.conf:3: d 2",
			"/k.conf:4: port 80", "/k.conf:4: port 443", "/k.conf:5: ab 1-2", "/k.conf:5: ab 3-",
			"/k.conf:6: 1a", "/k.conf:6: 1b", "/k.conf:6: 2a", "/k.conf:6: 2b"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, rep := lex(t, "main", tc.files)
			if rep.failed() {
				t.Fatalf("errors: %s", rep.diags)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("statements (-want +got):\n%s", d)
			}
		})
	}
}

// TestLexerErrors: input keepalived cannot read, or that would not end,
// is an error that names its file and line.
func TestLexerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"open quote", map[string]string{"/k.conf": "a\nvirtualhost \"abc\n"}, "/k.conf:2: error: a quote (\") is not closed on its line"},
		{"include cycle", map[string]string{"/k.conf": "include /a.conf\n", "/a.conf": "x\ninclude /k.conf\n"}, "/a.conf:2: error: include: /k.conf includes itself"},
		{"missing include", map[string]string{"/k.conf": "include /nothing/*.conf\n"}, "/k.conf:1: warning: include: \"/nothing/*.conf\" matches no file here"},
		{"self-referencing definition", map[string]string{"/k.conf": "$A=$A x\nvalue $A\n"}, "/k.conf:2: error: parameters are replaced more than 10000 times"},
		{"random", map[string]string{"/k.conf": "$X=${_RANDOM 1 10}\nweight $X\n"}, "/k.conf:2: error: ${_RANDOM} makes a new number"},
		{"bad sequence", map[string]string{"/k.conf": "~SEQ(N, 1, -1, 5) x\n"}, "/k.conf:1: error: ~SEQ: from 1 by -1 never reaches 5"},
		{"endless sequence", map[string]string{"/k.conf": "~SEQ(N, 1, 100000000) # nothing\n"}, "/k.conf:1: error: the configuration makes more than 2000000 lines"},
		{"definitions that double", map[string]string{"/k.conf": doubling}, "error: the configuration makes more than 2000000 lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep := lex(t, "", tc.files)
			got := rep.sorted(nil).String()
			if !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant one that starts %q", got, tc.want)
			}
		})
	}
}

func TestDecomment(t *testing.T) {
	for in, want := range map[string]string{
		"  a b  # c":          "a b",
		`a "b # c" ! d`:       `a "b # c"`,
		`a \# b`:              "a # b",
		`a "\#"`:              `a "\#"`,
		`$X= \`:               `$X=\`,
		"a # comment \\":      `a\`,
		`a 'b # c'`:           "a 'b",
		"\tweight 1\t":        "weight 1",
		`misc_path "x \"y\""`: `misc_path "x \"y\""`,
	} {
		if got, _ := decomment(in); got != want {
			t.Errorf("decomment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in    string
		words []string
		shell []string
	}{
		{`misc_path "/bin/check -a 'x y'"`, []string{"misc_path", "/bin/check -a 'x y'"}, []string{"misc_path", "/bin/check -a 'x y'"}},
		{`a b"c d"e`, []string{"a", "b", "c d", "e"}, []string{"a", "bc de"}},
		{`x 'single quotes' y`, []string{"x", "'single", "quotes'", "y"}, []string{"x", "single quotes", "y"}},
		{`e "\x41\101\n\cA\q"`, []string{"e", `\x41\101\n\cA\q`}, []string{"e", "AA\n\x01q"}},
	} {
		if got, ok := words(tc.in); !ok || !cmp.Equal(got, tc.words) {
			t.Errorf("words(%q) = %q %v, want %q", tc.in, got, ok, tc.words)
		}
		if got, ok := shellWords(tc.in); !ok || !cmp.Equal(got, tc.shell) {
			t.Errorf("shellWords(%q) = %q %v, want %q", tc.in, got, ok, tc.shell)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("/a/{b,c{1,2}}/x{,y}")
	want := []string{"/a/b/x", "/a/b/xy", "/a/c1/x", "/a/c1/xy", "/a/c2/x", "/a/c2/xy"}
	if !cmp.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := expandBraces(`/a/\{b,c}`); !cmp.Equal(got, []string{`/a/\{b,c}`}) {
		t.Errorf("escaped: %q", got)
	}
}

// doubling defines 40 multiline parameters, each used twice by the one
// before: 2^40 lines that define nothing but parameters.
var doubling = func() string {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "$P%d= \\\n$Q=1 \\\n$P%d \\\n$P%d\n", i, i+1, i+1)
	}
	b.WriteString("$P40=x\n$P0\n")
	return b.String()
}()
