package cli

import (
	"time"

	"github.com/ipvs-go/ipvs/reconcile"
)

// ApplyCommand is a parsed "ipvsctl apply" command line.
type ApplyCommand struct {
	// Help: print apply's manual and do nothing else.
	Help bool
	// File is the desired table; "-" is standard input.
	File  string
	NetNS string
	// DryRun prints the plan and changes nothing.
	DryRun bool
	// OwnListed converges only the services the file lists; otherwise
	// those it does not list are removed.
	OwnListed bool
	Drain     reconcile.DrainPolicy
	// Wait stays until no destination drains; DrainTimeout, with Wait,
	// removes one that drained that long.
	Wait         bool
	DrainTimeout time.Duration
	// AllowRemoval confirms a plan that removes every service, or more
	// than half of the table.
	AllowRemoval bool
	// FlushConntrack deletes the conntrack entries of the UDP and SCTP
	// destinations the plan removes (reconcile.Options.FlushConntrack).
	FlushConntrack bool
}

// Tags of apply's options.
const (
	tagFile tag = 2000 + iota
	tagOwn
	tagDrain
	tagDrainTimeout
	tagWait
	tagAllowRemoval
	tagHelp
)

// applyOptions is apply's option table, read by the same scanner as
// ipvsadm's.
var applyOptions = []spec{
	{"filename", 'f', argRequired, tagFile},
	{"dry-run", 0, argNone, tagDryRun},
	{"netns", 0, argRequired, tagNetNS},
	{"own", 0, argRequired, tagOwn},
	{"drain", 0, argRequired, tagDrain},
	{"drain-timeout", 0, argRequired, tagDrainTimeout},
	{"wait", 0, argNone, tagWait},
	{"allow-removal", 0, argNone, tagAllowRemoval},
	{"flush-conntrack", 0, argNone, tagFlushConntrack},
	{"help", 'h', argNone, tagHelp},
}

var applyOptionIndex = newOptionTable(applyOptions)

// drainPolicies are the values of --drain.
var drainPolicies = map[string]reconcile.DrainPolicy{
	"protocol": reconcile.DrainPolicyByProtocol, "drain": reconcile.DrainPolicyGracefully, "remove": reconcile.DrainPolicyRemoveAtOnce,
}

// ParseApply reads "PROG apply [options]": argv[0] is the program's name,
// argv[1] "apply". A refusal is an *ExitError as Parse's are: 255 for an
// option that cannot be read, 2 for a refused value or combination.
func ParseApply(argv []string) (*ApplyCommand, error) {
	c := &ApplyCommand{}
	sc := &scanner{table: applyOptionIndex, argv: argv[2:]}
	seen := map[tag]bool{}
	for {
		t, ok, err := sc.nextToken()
		if err != nil {
			return nil, &ExitError{Code: 255, Msg: err.Error()}
		}
		if !ok {
			break
		}
		if seen[t.spec.tag] {
			return nil, fail("multiple '%s' options specified", t.spec.long)
		}
		seen[t.spec.tag] = true
		switch t.spec.tag {
		case tagHelp:
			c.Help = true
		case tagFile:
			c.File = t.value
		case tagDryRun:
			c.DryRun = true
		case tagNetNS:
			if t.value == "" {
				return nil, fail("illegal netns `' specified")
			}
			c.NetNS = t.value
		case tagOwn:
			switch t.value {
			case "all":
			case "listed":
				c.OwnListed = true
			default:
				return nil, fail("illegal --own `%s' specified (all or listed)", t.value)
			}
		case tagDrain:
			p, ok := drainPolicies[t.value]
			if !ok {
				return nil, fail("illegal --drain `%s' specified (protocol, drain or remove)", t.value)
			}
			c.Drain = p
		case tagDrainTimeout:
			d, err := time.ParseDuration(t.value)
			if err != nil || d <= 0 {
				return nil, fail("illegal --drain-timeout `%s' specified (a duration such as 90s or 5m)", t.value)
			}
			c.DrainTimeout = d
		case tagWait:
			c.Wait = true
		case tagAllowRemoval:
			c.AllowRemoval = true
		case tagFlushConntrack:
			c.FlushConntrack = true
		}
	}
	switch {
	case c.Help:
		return c, nil
	case len(sc.rest) > 0:
		return nil, fail("unexpected argument %s", sc.rest[0])
	case c.File == "":
		return nil, fail("apply needs -f FILE (- for standard input)")
	case c.DrainTimeout > 0 && !c.Wait:
		return nil, fail("--drain-timeout needs --wait: a single apply is gone before any drain ends")
	case c.Wait && c.DryRun:
		return nil, fail("--wait and --dry-run conflict: a dry run changes nothing to wait for")
	}
	return c, nil
}
