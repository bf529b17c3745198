package keepalived

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options are how a configuration is read.
type Options struct {
	// FS is where the files are read from, by their absolute paths; nil
	// is the machine's own file system.
	FS fs.FS
	// ConfigID is the config id that lines starting "@id" are kept for
	// (and "@^id" dropped for), keepalived's -i. keepalived's default is
	// the host name up to its first dot; the import has none unless
	// given, and says so if the file has such lines.
	ConfigID string
}

// ParseFile reads the keepalived configuration in the file name and the
// files it includes, and returns its LVS half. The error is an
// *ImportError when the input has errors; the Config's Diagnostics list
// what was not carried over either way.
func ParseFile(name string, opts Options) (*Config, error) {
	dir := "/"
	if !filepath.IsAbs(name) && opts.FS == nil {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir = wd
	}
	rep := &report{}
	l := &lexer{files: newFiles(opts.FS), rep: rep, configID: opts.ConfigID, defs: newDefinitions()}
	root := abs(filepath.ToSlash(dir), name)
	l.file(root, Pos{File: root})
	d := &decoder{rep: rep, cfg: &Config{Groups: map[string]*Group{}}, configID: opts.ConfigID}
	d.top(buildTree(l.out, rep))
	d.cfg.Files = l.files.order
	d.cfg.Diagnostics = rep.sorted(l.files.order)
	if rep.failed() {
		return d.cfg, &ImportError{Diagnostics: d.cfg.Diagnostics}
	}
	return d.cfg, nil
}

// decoder turns the tree of a configuration into a Config, and reports
// every node it does not carry over.
type decoder struct {
	rep      *report
	cfg      *Config
	configID string
}

// handler decodes one keyword of a block.
type handler func(n *node)

// block decodes the children of parent, each by the handler of its
// keyword, and reports whether parent has a block. A keyword without a
// handler is an error: keepalived ignores a keyword it does not know,
// with an error. A keyword that takes a block and has none is an error
// too: keepalived then reads the lines after it as its block, up to the
// "}" that closes the block it is in, and everything after differs
// from what the file looks like.
func (d *decoder) block(parent *node, handlers map[string]handler) bool {
	if !parent.hasBlock {
		d.rep.errorf(parent.pos, parent.keyword(), "has no block: a \"{\" must follow it (even an empty one, {}), "+
			"or keepalived reads the lines after it as its block")
		return false
	}
	for _, n := range parent.block {
		h, ok := handlers[n.keyword()]
		if !ok {
			d.rep.errorf(n.pos, n.keyword(), "is not a keyword of %s", parent.keyword())
			continue
		}
		h(n)
	}
	return true
}

// leaf checks that n, a keyword with values only, has no block.
func (d *decoder) leaf(n *node) bool {
	if n.hasBlock {
		d.rep.errorf(n.pos, n.keyword(), "takes no block")
		return false
	}
	return true
}

// arg returns the i-th value of n (from 1), or reports it missing.
func (d *decoder) arg(n *node, i int, what string) (string, bool) {
	if !d.leaf(n) {
		return "", false
	}
	if len(n.words) <= i {
		d.rep.errorf(n.pos, n.keyword(), "needs %s", what)
		return "", false
	}
	return n.words[i], true
}

// value returns the one value of n, or reports it missing. keepalived
// ignores words after it; the import says so.
func (d *decoder) value(n *node, what string) (string, bool) {
	v, ok := d.arg(n, 1, what)
	if ok && len(n.words) > 2 {
		d.rep.warnf(n.pos, n.keyword(), "takes one value: keepalived ignores %q after it, and so does the import", strings.Join(n.words[2:], " "))
	}
	return v, ok
}

// check reports err, if any, against n.
func (d *decoder) check(n *node, err error) bool {
	if err != nil {
		d.rep.errorf(n.pos, n.keyword(), "%v", err)
		return false
	}
	return true
}

// timer reads n's <TIMER> into *dst.
func (d *decoder) timer(n *node, min time.Duration, dst **time.Duration) {
	s, ok := d.value(n, "a time in seconds")
	if !ok {
		return
	}
	if v, err := parseTimer(s, min); d.check(n, err) {
		*dst = &v
	}
}

// number reads n's number in [min, max] into *dst.
func (d *decoder) number(n *node, min, max uint64, dst **uint32) {
	s, ok := d.value(n, "a number")
	if !ok {
		return
	}
	if v, err := parseUint(s, min, max); d.check(n, err) {
		u := uint32(v)
		*dst = &u
	}
}

// flag reads a keyword that may take a <BOOL>, and is true without one.
func (d *decoder) flag(n *node) (bool, bool) {
	if !d.leaf(n) {
		return false, false
	}
	if len(n.words) < 2 {
		return true, true
	}
	v, err := parseBool(n.words[1])
	return v, d.check(n, err)
}

// timing are the handlers of the checker timing keywords, shared by
// virtual servers, real servers and checkers. keepalived takes retry 0
// only in a checker.
func (d *decoder) timing(t *Timing, minRetry uint64) map[string]handler {
	return map[string]handler{
		"delay_loop":         func(n *node) { d.timer(n, time.Microsecond, &t.DelayLoop) },
		"connect_timeout":    func(n *node) { d.timer(n, time.Microsecond, &t.ConnectTimeout) },
		"delay_before_retry": func(n *node) { d.timer(n, 0, &t.DelayBeforeRetry) },
		"warmup":             func(n *node) { d.timer(n, 0, &t.Warmup) },
		"retry":              func(n *node) { d.number(n, minRetry, math.MaxUint32, &t.Retry) },
	}
}

// merge adds more handlers to h.
func merge(h map[string]handler, more map[string]handler) map[string]handler {
	for k, v := range more {
		h[k] = v
	}
	return h
}

// top decodes the top level: the LVS half, with the rest reported.
func (d *decoder) top(nodes []*node) {
	var vrrp []*node
	for _, n := range nodes {
		switch k := n.keyword(); {
		case k == "virtual_server":
			d.virtualServer(n)
		case k == "virtual_server_group":
			d.group(n)
		case k == "SSL":
			d.ssl(n)
		case k == "global_defs":
			d.globalDefs(n)
		case isVRRP(k):
			vrrp = append(vrrp, n)
		default:
			d.rep.warnf(n.pos, k, "not carried over: ipvsd has no such setting")
		}
	}
	if len(vrrp) > 0 {
		kinds := map[string]bool{}
		var names []string
		for _, n := range vrrp {
			if !kinds[n.keyword()] {
				kinds[n.keyword()] = true
				names = append(names, n.keyword())
			}
		}
		d.rep.notef(vrrp[0].pos, vrrp[0].keyword(), "%d blocks of keepalived's VRRP and BFD half (%s) are skipped: ipvsd does not move addresses; keep keepalived for them, as keepalived -P",
			len(vrrp), strings.Join(names, ", "))
	}
}

// isVRRP reports whether a top-level keyword belongs to keepalived's
// VRRP or BFD processes, or to the addresses and routes they manage.
func isVRRP(k string) bool {
	if strings.HasPrefix(k, "vrrp_") || strings.HasPrefix(k, "static_") || strings.HasPrefix(k, "bfd_") {
		return true
	}
	switch k {
	case "garp_group", "linkbeat_interfaces", "track_file", "track_process", "virtual_ipaddress", "virtual_routes":
		return true
	}
	return false
}

// globalDefs reports global_defs: its LVS settings one by one, as not
// carried over, and the rest once.
func (d *decoder) globalDefs(n *node) {
	others := 0
	for _, c := range n.block {
		switch k := c.keyword(); {
		case k == "lvs_sync_daemon":
			d.rep.warnf(c.pos, k, "not carried over: start the sync daemon with ipvsctl or ipvsadm --start-daemon")
		case k == "lvs_timeouts":
			d.rep.warnf(c.pos, k, "not carried over: set the timeouts with ipvsctl or ipvsadm --set")
		case k == "lvs_flush" || k == "lvs_flush_onstop":
			d.rep.warnf(c.pos, k, "not carried over: ipvsd never flushes the table; it writes only its own virtual servers")
		case strings.HasPrefix(k, "lvs_"):
			d.rep.warnf(c.pos, k, "not carried over: ipvsd has no such setting")
		default:
			others++
		}
	}
	if others > 0 {
		d.rep.notef(n.pos, "global_defs", "%d settings of keepalived's other parts (its mail, SNMP, VRRP, scripts) are skipped", others)
	}
}

// ssl decodes the SSL block, which SSL_GET checkers share.
func (d *decoder) ssl(n *node) {
	s := &SSL{Pos: n.pos}
	str := func(dst *string) handler {
		return func(c *node) {
			if v, ok := d.value(c, "a file name"); ok {
				*dst = v
			}
		}
	}
	d.block(n, map[string]handler{
		"password":    func(c *node) { d.rep.warnf(c.pos, "password", "not carried over: ipvsd reads unencrypted keys only") },
		"ca":          str(&s.CA),
		"certificate": str(&s.Certificate),
		"key":         str(&s.Key),
	})
	if d.cfg.SSL != nil {
		d.rep.warnf(n.pos, "SSL", "given twice: this one replaces the one at %s, as in keepalived", d.cfg.SSL.Pos)
	}
	d.cfg.SSL = s
}

// errorfNode is a shorthand for an error about n.
func (d *decoder) errorfNode(n *node, format string, args ...any) {
	d.rep.errorf(n.pos, n.keyword(), "%s", fmt.Sprintf(format, args...))
}
