package cli

// tag names an option of the command line.
type tag int

// The commands, in ipvsadm's order (its cmdnames table).
const (
	CmdNone Cmd = iota
	CmdAdd
	CmdEdit
	CmdDel
	CmdFlush
	CmdList
	CmdAddDest
	CmdDelDest
	CmdEditDest
	CmdTimeout
	CmdStartDaemon
	CmdStopDaemon
	CmdRestore
	CmdSave
	CmdZero
	// CmdHelp and CmdVersion print and exit.
	CmdHelp
	CmdVersion
)

// Cmd is the command of a command line.
type Cmd int

var cmdNames = [...]string{"", "add-service", "edit-service", "delete-service", "flush", "list",
	"add-server", "delete-server", "edit-server", "set", "start-daemon", "stop-daemon",
	"restore", "save", "zero", "help", "version"}

// String returns the command's name as ipvsadm's messages spell it.
func (c Cmd) String() string { return cmdNames[c] }

// The options that ipvsadm's compatibility matrix knows, in its order
// (OPTC_*): bit i of Command.Options is option i.
const (
	optNumeric = iota
	optConnection
	optService
	optScheduler
	optPersistent
	optNetmask
	optServer
	optForward
	optWeight
	optUThreshold
	optLThreshold
	optMcast
	optTimeout
	optDaemon
	optStats
	optRate
	optThresholds
	optPersistentConn
	optNoSort
	optSyncID
	optExact
	optOnePacket
	optPE
	optSchedFlags
	optMcastGroup
	optMcastPort
	optMcastTTL
	optSyncMaxLen
	optTunInfo
	optTunType
	optTunPort
	optTunNoCsum
	optTunCsum
	optTunRemCsum
	numOpts
)

var optNames = [numOpts]string{"numeric", "connection", "service-address", "scheduler",
	"persistent", "netmask", "real-server", "forwarding-method", "weight", "u-threshold",
	"l-threshold", "mcast-interface", "timeout", "daemon", "stats", "rate", "thresholds",
	"persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
	"mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
	"tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"}

// matrix is ipvsadm's commands_v_options: per command (from CmdAdd), per
// option: '+' compulsory, 'x' illegal, '1' at most one of them, ' ' optional.
var matrix = [CmdZero]string{
	//              -n-csvc-s-p-M-rfwd-w-x-y-mctotdmnstrtthrpcsrtsidexopspe-bgrpprtttlsiztiftyptprnocscsumrem
	CmdAdd - 1:         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
	CmdEdit - 1:        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
	CmdDel - 1:         "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdFlush - 1:       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdList - 1:        " 11xxxxxxxxx11       xxxxxxx xxxxx",
	CmdAddDest - 1:     "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
	CmdDelDest - 1:     "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdEditDest - 1:    "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
	CmdTimeout - 1:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdStartDaemon - 1: "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx",
	CmdStopDaemon - 1:  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx",
	CmdRestore - 1:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdSave - 1:        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	CmdZero - 1:        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}

// Tags of options that are not in the matrix.
const (
	tagCommand tag = 1000 + iota
	tagTCP
	tagUDP
	tagSCTP
	tagFWMark
	tagMasq
	tagTunnel
	tagRoute
	tagIPv6
	tagSort
	tagJSON
	tagPretty
	tagYAML
	tagOutput
	tagNetNS
	tagDryRun
	tagFlush
	tagFlushConntrack
)

// commandSpecs maps the command options to their commands.
var commandSpecs = map[string]Cmd{
	"add-service": CmdAdd, "edit-service": CmdEdit, "delete-service": CmdDel, "clear": CmdFlush,
	"list": CmdList, "zero": CmdZero, "add-server": CmdAddDest, "edit-server": CmdEditDest,
	"delete-server": CmdDelDest, "set": CmdTimeout, "help": CmdHelp, "version": CmdVersion,
	"restore": CmdRestore, "save": CmdSave, "start-daemon": CmdStartDaemon, "stop-daemon": CmdStopDaemon,
}

// options is ipvsadm 1.31's popt table, plus ipvsctl's own options (the
// last block).
var options = []spec{
	{"add-service", 'A', argNone, tagCommand},
	{"edit-service", 'E', argNone, tagCommand},
	{"delete-service", 'D', argNone, tagCommand},
	{"clear", 'C', argNone, tagCommand},
	{"list", 'L', argNone, tagCommand},
	{"list", 'l', argNone, tagCommand},
	{"zero", 'Z', argNone, tagCommand},
	{"add-server", 'a', argNone, tagCommand},
	{"edit-server", 'e', argNone, tagCommand},
	{"delete-server", 'd', argNone, tagCommand},
	{"set", 0, argNone, tagCommand},
	{"help", 'h', argNone, tagCommand},
	{"version", 'v', argNone, tagCommand},
	{"restore", 'R', argNone, tagCommand},
	{"save", 'S', argNone, tagCommand},
	{"start-daemon", 0, argRequired, tagCommand},
	{"stop-daemon", 0, argRequired, tagCommand},
	{"tcp-service", 't', argRequired, tagTCP},
	{"udp-service", 'u', argRequired, tagUDP},
	{"sctp-service", 0, argRequired, tagSCTP},
	{"fwmark-service", 'f', argRequired, tagFWMark},
	{"scheduler", 's', argRequired, optScheduler},
	{"persistent", 'p', argOptional, optPersistent},
	{"netmask", 'M', argRequired, optNetmask},
	{"real-server", 'r', argRequired, optServer},
	{"masquerading", 'm', argNone, tagMasq},
	{"ipip", 'i', argNone, tagTunnel},
	{"gatewaying", 'g', argNone, tagRoute},
	{"weight", 'w', argRequired, optWeight},
	{"u-threshold", 'x', argRequired, optUThreshold},
	{"l-threshold", 'y', argRequired, optLThreshold},
	{"numeric", 'n', argNone, optNumeric},
	{"connection", 'c', argNone, optConnection},
	{"mcast-interface", 0, argRequired, optMcast},
	{"syncid", 0, argRequired, optSyncID},
	{"timeout", 0, argNone, optTimeout},
	{"daemon", 0, argNone, optDaemon},
	{"stats", 0, argNone, optStats},
	{"rate", 0, argNone, optRate},
	{"thresholds", 0, argNone, optThresholds},
	{"persistent-conn", 0, argNone, optPersistentConn},
	{"nosort", 0, argNone, optNoSort},
	{"sort", 0, argNone, tagSort},
	{"exact", 'X', argNone, optExact},
	{"ipv6", '6', argNone, tagIPv6},
	{"ops", 'o', argNone, optOnePacket},
	{"pe", 0, argRequired, optPE},
	{"sched-flags", 'b', argRequired, optSchedFlags},
	{"mcast-group", 0, argRequired, optMcastGroup},
	{"mcast-port", 0, argRequired, optMcastPort},
	{"mcast-ttl", 0, argRequired, optMcastTTL},
	{"sync-maxlen", 0, argRequired, optSyncMaxLen},
	{"tun-info", 0, argNone, optTunInfo},
	{"tun-type", 0, argRequired, optTunType},
	{"tun-port", 0, argRequired, optTunPort},
	{"tun-nocsum", 0, argNone, optTunNoCsum},
	{"tun-csum", 0, argNone, optTunCsum},
	{"tun-remcsum", 0, argNone, optTunRemCsum},

	{"json", 'j', argNone, tagJSON},
	{"pretty", 0, argNone, tagPretty},
	{"yaml", 0, argNone, tagYAML},
	{"output", 0, argRequired, tagOutput},
	{"netns", 0, argRequired, tagNetNS},
	{"dry-run", 0, argNone, tagDryRun},
	{"flush", 0, argNone, tagFlush},
	{"flush-conntrack", 0, argNone, tagFlushConntrack},
}

var optionIndex = newOptionTable(options)

// tunnelMatrix is ipvsadm's tunnel_types_v_options over --tun-port,
// --tun-nocsum, --tun-csum, --tun-remcsum for ipip, gue and gre.
var tunnelMatrix = [3][4]byte{{'x', 'x', 'x', 'x'}, {'+', '1', '1', '1'}, {'x', '1', '1', 'x'}}

var tunnelOpts = [4]int{optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum}

var tunnelNames = [3]string{"ipip", "gue", "gre"}
