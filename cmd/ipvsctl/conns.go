package main

import (
	"fmt"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/schema"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/text"
)

// listConnections runs -Lc, from the library's reader of the connection
// table of the client's namespace.
func (e *env) listConnections(cmd *cli.Command) int {
	structured := cmd.Output != cli.OutputText
	var conns []schema.Connection
	if !structured {
		text.ConnTitle(e.out, cmd.Format)
	}
	for c, err := range e.client.Connections(e.ctx, ipvs.ConnectionFilter{}) {
		if err != nil {
			fmt.Fprintln(e.errw, err)
			return 1
		}
		if structured {
			conns = append(conns, schema.FromConnection(&c, text.ConnProtocol(c.Protocol)))
			continue
		}
		text.Conn(e.out, &c, cmd.Format)
	}
	if structured {
		if conns == nil {
			conns = []schema.Connection{}
		}
		return e.emit(cmd, &schema.Table{Connections: conns})
	}
	return 0
}
