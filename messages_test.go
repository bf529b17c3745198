package ipvs

import "github.com/ipvs-go/ipvs/internal/ipvsh"

// Whole reply messages (Generic Netlink header and attributes) decoded as
// the exchange path decodes them: the tests, fuzz targets and benchmarks
// keep their inputs as the kernel sent them.

func decodeServiceMessage(msg []byte, s *Service) error {
	p, err := genlPayload(msg, ipvsh.CmdNewService)
	if err != nil {
		return err
	}
	return decodeServiceReply(p, s)
}

func decodeDestinationMessage(msg []byte, svcFamily Family, d *Destination) error {
	p, err := genlPayload(msg, ipvsh.CmdNewDest)
	if err != nil {
		return err
	}
	return decodeDestinationReply(p, svcFamily, d)
}

func decodeDaemonMessage(msg []byte, d *Daemon) error {
	p, err := genlPayload(msg, ipvsh.CmdNewDaemon)
	if err != nil {
		return err
	}
	return decodeDaemonReply(p, d)
}

func decodeInfoMessage(msg []byte, info *Info) error {
	p, err := genlPayload(msg, ipvsh.CmdSetInfo)
	if err != nil {
		return err
	}
	return decodeInfoReply(p, info)
}

func decodeTimeoutsMessage(msg []byte, t *Timeouts) error {
	p, err := genlPayload(msg, ipvsh.CmdSetConfig)
	if err != nil {
		return err
	}
	return decodeTimeoutsReply(p, t)
}
