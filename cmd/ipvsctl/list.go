package main

import (
	"fmt"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/schema"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/text"
)

// list runs -L: the table, one service, the timeouts, the daemons or the
// connections, as text or structured.
func (e *env) list(cmd *cli.Command) int {
	switch {
	case cmd.Connections():
		return e.listConnections(cmd)
	case cmd.HasService:
		return e.listService(cmd)
	case cmd.ListTimeout():
		t, err := e.client.Timeouts(e.ctx)
		if err != nil {
			return e.readFailed(err)
		}
		if cmd.Output != cli.OutputText {
			return e.emit(cmd, &schema.Table{Timeouts: schema.FromTimeouts(t)})
		}
		text.Timeouts(e.out, t)
		return 0
	case cmd.ListDaemon():
		ds, err := e.client.Daemons(e.ctx)
		if err != nil {
			return e.readFailed(err)
		}
		if cmd.Output != cli.OutputText {
			return e.emit(cmd, &schema.Table{Daemons: schema.FromDaemons(ds)})
		}
		text.Daemons(e.out, ds)
		return 0
	}
	info, err := e.client.Info(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	vs, err := e.client.VirtualServers(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	if cmd.Format&cli.FmtNoSort == 0 {
		text.Sort(vs)
	}
	if cmd.Output != cli.OutputText {
		return e.emit(cmd, &schema.Table{Info: schema.FromInfo(info), Services: schema.FromServices(vs)})
	}
	text.Header(e.out, info)
	text.Title(e.out, cmd.Format)
	for i := range vs {
		text.Service(e.out, &vs[i], cmd.Format)
	}
	return 0
}

// listService runs -L with a service.
func (e *env) listService(cmd *cli.Command) int {
	svc, err := e.client.Service(e.ctx, cmd.Service)
	if err != nil {
		fmt.Fprintln(e.errw, kernelMessage(cli.CmdList, err))
		return 1
	}
	dests, err := e.client.Destinations(e.ctx, svc)
	if err != nil {
		return e.readFailed(err)
	}
	vs := []ipvs.VirtualServer{{Service: svc, Destinations: dests}}
	if cmd.Format&cli.FmtNoSort == 0 {
		text.Sort(vs)
	}
	if cmd.Output != cli.OutputText {
		return e.emit(cmd, &schema.Table{Services: schema.FromServices(vs)})
	}
	text.Title(e.out, cmd.Format)
	text.Service(e.out, &vs[0], cmd.Format)
	return 0
}

// readFailed reports a failed read as ipvsadm's listings do: status 1.
func (e *env) readFailed(err error) int {
	fmt.Fprintln(e.errw, kernelMessage(cli.CmdList, err))
	return 1
}

// emit prints a structured listing.
func (e *env) emit(cmd *cli.Command, t *schema.Table) int {
	b, err := schema.Encode(t, cmd.Output == cli.OutputYAML, cmd.Pretty)
	if err != nil {
		fmt.Fprintln(e.errw, err)
		return 1
	}
	e.out.Write(b)
	return 0
}

// save runs -S: ipvsadm's rules, plus thresholds, timeouts and daemons.
func (e *env) save(cmd *cli.Command) int {
	vs, err := e.client.VirtualServers(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	t, err := e.client.Timeouts(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	ds, err := e.client.Daemons(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	text.Sort(vs)
	if cmd.Output != cli.OutputText {
		return e.emit(cmd, &schema.Table{Services: schema.FromServices(vs), Timeouts: schema.FromTimeouts(t), Daemons: schema.FromDaemons(ds)})
	}
	text.Save(e.out, vs, &t, ds, cmd.Format|cli.FmtRule)
	return 0
}

// write runs a command that changes the table, one request.
func (e *env) write(cmd *cli.Command) int {
	c, ctx := e.client, e.ctx
	var err error
	switch cmd.Cmd {
	case cli.CmdAdd:
		err = c.CreateService(ctx, cmd.Service)
	case cli.CmdEdit:
		err = c.UpdateService(ctx, cmd.Service)
	case cli.CmdDel:
		err = c.RemoveService(ctx, cmd.Service)
	case cli.CmdFlush:
		err = c.Flush(ctx)
	case cli.CmdZero:
		if cmd.HasService {
			err = c.ZeroServiceStats(ctx, cmd.Service)
		} else {
			err = c.ZeroStats(ctx)
		}
	case cli.CmdAddDest:
		err = c.CreateDestination(ctx, cmd.Service, cmd.Dest)
	case cli.CmdEditDest:
		err = c.UpdateDestination(ctx, cmd.Service, cmd.Dest)
	case cli.CmdDelDest:
		err = c.RemoveDestination(ctx, cmd.Service, cmd.Dest)
		if err == nil && cmd.FlushConntrack {
			_, err = c.FlushConntrack(ctx, ipvs.ConntrackFilter{Service: cmd.Service, Destination: cmd.Dest})
		}
	case cli.CmdTimeout:
		err = c.SetTimeouts(ctx, cmd.Timeouts)
	case cli.CmdStartDaemon:
		err = c.StartDaemon(ctx, cmd.Daemon)
	case cli.CmdStopDaemon:
		err = c.StopDaemon(ctx, cmd.Daemon.State)
	}
	if err != nil {
		fmt.Fprintln(e.errw, kernelMessage(cmd.Cmd, err))
		return 255
	}
	return 0
}
