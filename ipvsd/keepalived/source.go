package keepalived

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits on what one configuration may make the parser read or produce,
// so that no input, however built, exhausts the machine. Real files are
// far below each.
const (
	// maxBytes bounds the bytes read over the file and all it includes.
	maxBytes = 64 << 20
	// maxIncludeDepth bounds nested includes.
	maxIncludeDepth = 32
	// maxLineLength bounds a line after parameter substitution, as
	// keepalived's own buffer does.
	maxLineLength = 64 << 10
)

// maxLines bounds the statements made, after definitions, ~SEQ and ~LST
// are expanded: a thousand virtual servers of ten real servers each take
// about a hundred thousand. The fuzz test lowers it.
var maxLines = 2_000_000

// files reads the configuration and its includes through an fs.FS rooted
// at "/", with absolute paths, as keepalived reads them from the
// machine's root.
type files struct {
	fsys  fs.FS
	read  int      // bytes read so far
	order []string // each file read, in order
}

func newFiles(fsys fs.FS) *files {
	if fsys == nil {
		fsys = os.DirFS("/")
	}
	return &files{fsys: fsys}
}

// abs makes name absolute and clean; a relative name is taken from dir.
func abs(dir, name string) string {
	name = filepath.ToSlash(name)
	if !path.IsAbs(name) {
		name = path.Join(dir, name)
	}
	return path.Clean(name)
}

// rel is the name of an absolute path inside the fs.FS.
func rel(name string) string {
	if name == "/" {
		return "."
	}
	return strings.TrimPrefix(name, "/")
}

// errTooLarge is the error of a configuration past maxBytes.
var errTooLarge = errors.New("the configuration is larger than 64 MiB, with its includes")

// readFile reads an absolute path.
func (f *files) readFile(name string) ([]byte, error) {
	data, err := fs.ReadFile(f.fsys, rel(name))
	if err != nil {
		return nil, err
	}
	f.read += len(data)
	if f.read > maxBytes {
		return nil, errTooLarge
	}
	f.order = append(f.order, name)
	return data, nil
}

// glob returns the regular files an include pattern names, absolute, in
// the order glob(3) with GLOB_BRACE gives them: each brace alternative in
// turn, the matches of each sorted; and the directories it matched,
// which keepalived skips.
func (f *files) glob(pattern string) (matches, dirs []string, err error) {
	for _, p := range expandBraces(pattern) {
		found, err := fs.Glob(f.fsys, rel(p))
		if err != nil {
			return nil, nil, err
		}
		slices.Sort(found)
		for _, m := range found {
			st, err := fs.Stat(f.fsys, m)
			if err != nil {
				continue
			}
			if st.IsDir() {
				dirs = append(dirs, "/"+m)
				continue
			}
			matches = append(matches, "/"+m)
		}
	}
	return matches, dirs, nil
}

// maxBraceExpansions bounds what one include pattern expands to.
const maxBraceExpansions = 4096

// expandBraces expands csh-style braces, "{a,b}c" into "ac" and "bc",
// nested, as glob(3)'s GLOB_BRACE does; a backslash escapes a brace, and
// an unmatched brace is taken as it is.
func expandBraces(pattern string) []string {
	open, close := -1, -1
	depth := 0
	for i := 0; i < len(pattern) && close < 0; i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth > 0 {
				depth--
				if depth == 0 {
					close = i
				}
			}
		}
	}
	if open < 0 || close < 0 {
		return []string{pattern}
	}
	var alts []string
	start, depth := open+1, 0
	for i := open + 1; i < close; i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				alts = append(alts, pattern[start:i])
				start = i + 1
			}
		}
	}
	alts = append(alts, pattern[start:close])
	var out []string
	for _, a := range alts {
		for _, e := range expandBraces(pattern[:open] + a + pattern[close+1:]) {
			if len(out) == maxBraceExpansions {
				return out
			}
			out = append(out, e)
		}
	}
	return out
}
