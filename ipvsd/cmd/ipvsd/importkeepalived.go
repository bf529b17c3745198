package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs/ipvsd/keepalived"
)

// importCommand is "ipvsd import-keepalived FILE": keepalived.conf's LVS
// half as an ipvsd configuration. The library's keepalived.Import does
// the work; this is its command line.
type importCommand struct {
	cmd      *kingpin.CmdClause
	file     *string
	output   *string
	configID *string
	strict   *bool
}

func newImportCommand(app *kingpin.Application) *importCommand {
	c := &importCommand{cmd: app.Command("import-keepalived", "Convert a keepalived configuration (its virtual servers, "+
		"with the files it includes) into an ipvsd configuration, written to standard output. What is not carried over, "+
		"or not exactly, is listed on standard error and in the file's header, each with its file and line; exit 1 if the "+
		"input has errors.")}
	c.file = c.cmd.Arg("file", "The keepalived configuration, such as /etc/keepalived/keepalived.conf.").Required().String()
	c.output = c.cmd.Flag("output", "Write the configuration to this file instead of standard output.").Short('o').String()
	c.configID = c.cmd.Flag("config-id", "keepalived's config id (its -i), which lines starting @ID are kept for. "+
		"Default: this host's name up to its first dot, as keepalived's.").String()
	c.strict = c.cmd.Flag("strict", "Exit 1 also if anything is not carried over exactly (a warning).").Bool()
	return c
}

func (c *importCommand) run(stdout, stderr io.Writer) int {
	id := *c.configID
	if id == "" {
		host, _ := os.Hostname()
		id, _, _ = strings.Cut(host, ".")
	}
	res, err := keepalived.Import(*c.file, keepalived.Options{ConfigID: id})
	var ie *keepalived.ImportError
	if err != nil && !errors.As(err, &ie) {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	warnings := 0
	for _, d := range res.Diagnostics {
		fmt.Fprintln(stderr, d)
		if d.Severity == keepalived.Warning {
			warnings++
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd: %s: not imported: %d errors\n", *c.file, len(res.Diagnostics.Errors()))
		return 1
	}
	out := stdout
	if *c.output != "" {
		if err := os.WriteFile(*c.output, res.YAML, 0o644); err != nil {
			fmt.Fprintf(stderr, "ipvsd: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "ipvsd: %s: %d virtual servers written to %s\n", *c.file, len(res.File.VirtualServers), *c.output)
	} else if _, err := out.Write(res.YAML); err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	if *c.strict && warnings > 0 {
		fmt.Fprintf(stderr, "ipvsd: %s: %d directives not carried over exactly (--strict)\n", *c.file, warnings)
		return 1
	}
	return 0
}
