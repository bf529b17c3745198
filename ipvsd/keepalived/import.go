package keepalived

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// Result is a keepalived configuration imported into ipvsd's.
type Result struct {
	// File is the ipvsd configuration, valid as ipvsd reads it.
	File *config.File
	// YAML is File as a configuration file, with a header that names the
	// input and lists what was not carried over.
	YAML []byte
	// Diagnostics are what reading and converting the input found, in
	// the input's order.
	Diagnostics Diagnostics
}

// Import reads the keepalived configuration in the file name, with what
// it includes, and converts its LVS half into an ipvsd configuration
// that ipvsd's own validation accepts. The error is an *ImportError if
// the input has errors, or if the result is not valid for ipvsd (its
// problems are then named by the input's lines); the Result's
// Diagnostics list the warnings and notes either way.
func Import(name string, opts Options) (*Result, error) {
	c, err := ParseFile(name, opts)
	if err != nil {
		var ie *ImportError
		if !errors.As(err, &ie) {
			return nil, err
		}
		return &Result{Diagnostics: c.Diagnostics}, err
	}
	cv := &converter{cfg: c, rep: &report{}, origins: map[string]Pos{}}
	f := cv.convert()
	cv.rep.diags = append(cv.rep.diags, c.Diagnostics...)
	res := &Result{File: f, Diagnostics: cv.rep.sorted(c.Files)}
	body, err := marshal(f)
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(name, body); err != nil {
		var es config.Errors
		if !errors.As(err, &es) {
			return nil, err
		}
		for _, e := range es {
			res.Diagnostics = append(res.Diagnostics, Diagnostic{Pos: cv.origin(e.Field), Severity: Error,
				Message: fmt.Sprintf("ipvsd cannot take it: %s: %s", e.Field, e.Message)})
		}
		return res, &ImportError{Diagnostics: res.Diagnostics}
	}
	res.YAML = append(header(c.Files, res.Diagnostics), body...)
	return res, nil
}

// origin returns where the output's field path came from: the input of
// its nearest enclosing check, real server or virtual server.
func (cv *converter) origin(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := cv.origins[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if len(cv.cfg.Files) > 0 {
		return Pos{File: cv.cfg.Files[0]}
	}
	return Pos{}
}

// marshal writes an ipvsd configuration as YAML.
func marshal(f *config.File) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxHeaderDiagnostics bounds the diagnostics the header lists: the
// command prints them all.
const maxHeaderDiagnostics = 100

// header is the comment at the top of an imported file.
func header(files []string, diags Diagnostics) []byte {
	var b bytes.Buffer
	if len(files) > 0 {
		fmt.Fprintf(&b, "# Imported by ipvsd import-keepalived from %s", files[0])
		if len(files) > 1 {
			fmt.Fprintf(&b, " and the %d files it includes", len(files)-1)
		}
		b.WriteString(".\n")
	}
	if len(diags) > 0 {
		b.WriteString("# What was not carried over, or not exactly:\n")
		for i, d := range diags {
			if i == maxHeaderDiagnostics {
				fmt.Fprintf(&b, "#   ... and %d more\n", len(diags)-i)
				break
			}
			fmt.Fprintf(&b, "#   %s\n", strings.ReplaceAll(d.String(), "\n", " "))
		}
	}
	return b.Bytes()
}
