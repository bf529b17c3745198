package main

import (
	"bufio"
	"strings"

	"github.com/ipvs-go/ipvs/internal/buildinfo"
)

// versionLine is what -v and --version print: one line on stdout and exit
// status 0, as ipvsadm's "ipvsadm v1.31 2019/12/24 (compiled with popt
// and IPVS v1.2.1)", but naming this build (its module version, commit
// and library) and the ipvsadm release whose command line it reads,
// rather than posing as ipvsadm.
func versionLine() string {
	return buildinfo.Read().Line("ipvsctl") + "; ipvsadm v1.31 command line"
}

// manual is the text of --help, in the manner of a man page, and
// applyManual its section on apply, which is also apply's --help; PROG
// stands for the program's name. They are the one place of ipvsctl's
// usage text.
var manual = manualHead + applyManual + manualTail

const manualHead = `NAME
    PROG - Linux Virtual Server administration, ipvsadm 1.31 compatible

SYNOPSIS
    PROG -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask]
            [--pe persistence_engine] [-b sched-flags]
    PROG -D virtual-service
    PROG -C
    PROG -R [--dry-run] [--flush] [--flush-conntrack]
    PROG -S [-n]
    PROG -a|e virtual-service -r server-address [options]
    PROG -d virtual-service -r server-address [--flush-conntrack]
    PROG -L|l [virtual-service] [options] [-j [-p] | --yaml]
    PROG -Z [virtual-service]
    PROG --set tcp tcpfin udp
    PROG --start-daemon {master|backup} [daemon-options]
    PROG --stop-daemon {master|backup}
    PROG apply -f FILE [--dry-run] [--own all|listed] [--drain protocol|drain|remove]
            [--wait [--drain-timeout D]] [--allow-removal] [--flush-conntrack]
    PROG completion bash|zsh
    PROG -h
    Every command takes --netns NAME|PATH.

DESCRIPTION
    PROG reads ipvsadm 1.31's command line, with its options, defaults,
    refusals and exit statuses, and lists the table byte for byte as
    ipvsadm does. It adds a save that loses nothing, a restore that
    changes only what differs, JSON and YAML listings, and network
    namespaces.

COMMANDS
    --add-service     -A        add virtual service with options
    --edit-service    -E        edit virtual service with options
    --delete-service  -D        delete virtual service
    --clear           -C        clear the whole table
    --restore         -R        restore rules from stdin, as a diff (below)
    --save            -S        save rules to stdout, losslessly (below)
    --add-server      -a        add real server with options
    --edit-server     -e        edit real server with options
    --delete-server   -d        delete real server
    --list            -L|-l     list the table
    --zero            -Z        zero counters in a service or all services
    --set tcp tcpfin udp        set connection timeout values
    --start-daemon              start connection sync daemon
    --stop-daemon               stop connection sync daemon
    --help            -h        display this help message
    --version         -v        print this build's version (module, commit)
    apply -f FILE               converge to the table of a JSON or YAML file
    completion bash|zsh         print a shell completion script

VIRTUAL SERVICE
    --tcp-service|-t  service-address   service-address is host[:port]
    --udp-service|-u  service-address   service-address is host[:port]
    --sctp-service    service-address   service-address is host[:port]
    --fwmark-service|-f fwmark          fwmark is an integer greater than zero
    An IPv6 address is written [address]:port.

OPTIONS
    --ipv6         -6                   fwmark entry uses IPv6
    --scheduler    -s scheduler         rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh|twos,
                                        the default scheduler is wlc.
    --pe            engine              alternate persistence engine (sip),
                                        not set by default.
    --persistent   -p [timeout]         persistent service (default 300 s);
                                        in -L, -p means pretty JSON instead
    --netmask      -M netmask           persistent granularity mask
    --real-server  -r server-address    server-address is host (and port)
    --gatewaying   -g                   gatewaying (direct routing) (default)
    --ipip         -i                   ipip encapsulation (tunneling)
    --masquerading -m                   masquerading (NAT)
    --tun-type      type                one of ipip|gue|gre,
                                        the default tunnel type is ipip.
    --tun-port      port                tunnel destination port
    --tun-nocsum                        tunnel encapsulation without checksum
    --tun-csum                          tunnel encapsulation with checksum
    --tun-remcsum                       tunnel encapsulation with remote checksum
    --weight       -w weight            capacity of real server
    --u-threshold  -x uthreshold        upper threshold of connections
    --l-threshold  -y lthreshold        lower threshold of connections
    --connection   -c                   output of current IPVS connections
    --timeout                           output of timeout (tcp tcpfin udp)
    --daemon                            output of daemon information
    --stats                             output of statistics information
    --rate                              output of rate information
    --exact                             expand numbers (display exact values)
    --thresholds                        output of thresholds information
    --persistent-conn                   output of persistent connection info
    --tun-info                          output of tunnel information
    --nosort                            disable sorting output of service/server entries
    --sort                              does nothing, for backwards compatibility
    --ops          -o                   one-packet scheduling
    --numeric      -n                   numeric output of addresses and ports
    --sched-flags  -b flags             scheduler flags (comma-separated):
                                        flag-1,flag-2,flag-3, sh-fallback,sh-port,
                                        mh-fallback,mh-port

DAEMON OPTIONS
    --syncid sid                        syncid for connection sync (default=0)
    --sync-maxlen length                max sync message length (default: from the MTU)
    --mcast-interface interface         multicast interface (default=eth0)
    --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
    --mcast-port port                   UDP port (default=8848)
    --mcast-ttl ttl                     multicast TTL (default=1)

IPVSCTL OPTIONS
    --netns NAME|PATH                   work in a network namespace: NAME is
                                        /var/run/netns/NAME ("ip netns add")
    --json         -j                   listings as compact JSON
    --pretty                            indented JSON; in -L, -p says the same
    --yaml                              listings as YAML
    --output       json|yaml|text       the same, by name
    --dry-run                           -R and apply: print the plan, change nothing
    --flush                             -R: the result is the input's table alone
                                        (ipvsadm-restore's flush), still as a diff
    --flush-conntrack                   -d and -R: delete the conntrack entries of
                                        the real servers removed (-R: of UDP and
                                        SCTP services); needs nf_conntrack_netlink.
                                        Flows move with expire_nodest_conn=1, not
                                        with this

SAVE
    -S prints ipvsadm's lines, which stock ipvsadm -R reads, and also what
    ipvsadm leaves out: -x and -y on the -a lines, a --set line with the
    timeouts and a --start-daemon line per running daemon.

RESTORE
    -R reads ipvsadm's save format, or any of its command lines, one per
    line ('#' starts a comment), into the table they describe, then makes
    the kernel's table so in batches: what is already as described is
    not touched, so its connections stay. -A and -a mean "make it so",
    whether or not the service or server exists; services the input does
    not name are left alone, unless the input has -C or --flush is given.
    A line that cannot be read (or is longer than 1 MiB, or is -R, -h,
    --version, -L or -S), a value the kernel would refuse, and a
    scheduler or engine whose module the kernel lacks stop the restore
    before any change.

`

const applyManual = `APPLY
    PROG apply -f FILE [options] converges the table to the one of FILE,
    JSON or YAML in the schema below (- reads standard input; read-only
    fields such as stats are ignored, so a listing is a valid input).
    The file is read strictly: a key given twice, an unknown key (names
    are case-sensitive), a value of the wrong type and a second YAML
    document are refused with their line and column.

    -f, --filename FILE        the desired table
    --dry-run                  print the plan, change nothing
    --netns NAME|PATH          work in a network namespace
    --own all|listed           all (default): services the file does not
                               list are removed; listed: only the listed
                               ones are touched
    --drain protocol|drain|remove
                               what becomes of a destination no longer
                               desired: protocol (default) drains TCP and
                               fwmark services' (weight 0 until their
                               connections end) and removes UDP and
                               SCTP ones at once; drain; or remove
    --wait                     stay until no destination drains, reading
                               the table every second, with progress on
                               a terminal
    --drain-timeout D          with --wait: remove a draining destination
                               D (such as 90s or 5m) after the wait first
                               saw it at weight 0, connections or not
    --allow-removal            apply a plan that removes every service (a
                               file naming none, with --own all) or takes
                               away more than half of the services and
                               destinations of the table it owns; without
                               it such a plan is refused, and --dry-run
                               says so on its last line
    --flush-conntrack          delete the conntrack entries of the UDP and
                               SCTP destinations the plan removes
    -h, --help                 this text

`

const manualTail = `COMPLETION
    PROG completion bash|zsh prints a script that completes PROG's
    commands, options and their values (schedulers, namespaces, the
    table's services, files for apply -f) in that shell:
        source <(PROG completion bash)     # in ~/.bashrc
        PROG completion zsh > "${fpath[1]}/_PROG"

EXIT STATUS
    0 success; 1 a listing failed; 2 a refused option, value, file or
    combination; 255 a command line that cannot be read, or a change the
    kernel refused; 128+N after signal N (130 for Ctrl-C): a signal stops
    the reading of the input at once, and the writing between batches.

JSON SCHEMA
    {"info": {"version", "connectionTableSize"},
     "services": [{"family", "protocol", "address", "port", "fwMark",
       "scheduler", "persistenceEngine", "flags": [...], "timeout",
       "netmask", "stats": {...}, "destinations": [{"address", "port",
       "forward", "weight", "upperThreshold", "lowerThreshold",
       "tunnelType", "tunnelPort", "tunnelFlags", "activeConnections",
       "inactiveConnections", "persistentConnections", "stats"}]}],
     "timeouts": {"tcp", "tcpFin", "udp"},
     "daemons": [{"state", "interface", "syncID", "maxLength", "group",
       "port", "ttl"}],
     "connections": [{"protocol", "client", "virtual", "destination",
       "state", "expires", "persistenceEngine", "peData", "synced"}]}
`

// usage prints the manual.
func usage(w *bufio.Writer, program string) {
	w.WriteString(strings.ReplaceAll(manual, "PROG", program))
}

// applyUsage prints apply's section of the manual.
func applyUsage(w *bufio.Writer, program string) {
	w.WriteString(strings.ReplaceAll(applyManual, "PROG", program))
}
