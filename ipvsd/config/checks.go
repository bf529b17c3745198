package config

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// CheckTypes are the kinds of check.
var CheckTypes = []string{"tcp", "http", "https", "udp", "dns", "exec"}

// checkField is a field of Check that applies to some types only.
type checkField struct {
	name  string
	set   func(c *Check) bool
	types string // space-separated
}

var checkFields = []checkField{
	{"connect_ip", func(c *Check) bool { return c.ConnectIP != "" }, "tcp http https udp dns"},
	{"fwmark", func(c *Check) bool { return c.FWMark != 0 }, "tcp http https udp dns"},
	{"connect_port", func(c *Check) bool { return c.ConnectPort != 0 }, "tcp http https udp dns"},
	{"bindto", func(c *Check) bool { return c.BindTo != "" }, "tcp http https udp dns"},
	{"path", func(c *Check) bool { return c.Path != "" }, "http https"},
	{"status_code", func(c *Check) bool { return c.StatusCode != nil }, "http https"},
	{"digest", func(c *Check) bool { return c.Digest != "" }, "http https"},
	{"regex", func(c *Check) bool { return c.Regex != "" }, "http https"},
	{"regex_no_match", func(c *Check) bool { return c.RegexNoMatch }, "http https"},
	{"virtualhost", func(c *Check) bool { return c.VirtualHost != "" }, "http https"},
	{"sni_name", func(c *Check) bool { return c.SNIName != "" }, "https"},
	{"insecure_skip_verify", func(c *Check) bool { return c.InsecureSkipVerify }, "https"},
	{"ca", func(c *Check) bool { return c.CA != "" }, "https"},
	{"certificate", func(c *Check) bool { return c.Certificate != "" }, "https"},
	{"key", func(c *Check) bool { return c.Key != "" }, "https"},
	{"payload", func(c *Check) bool { return c.Payload != "" }, "udp"},
	{"require_reply", func(c *Check) bool { return c.RequireReply != nil }, "udp"},
	{"query_name", func(c *Check) bool { return c.QueryName != "" }, "dns"},
	{"query_type", func(c *Check) bool { return c.QueryType != "" }, "dns"},
	{"rcode", func(c *Check) bool { return c.RCode != "" }, "dns"},
	{"answer", func(c *Check) bool { return c.Answer != "" }, "dns"},
	{"min_reply_length", func(c *Check) bool { return c.MinReplyLength != 0 }, "udp"},
	{"max_reply_length", func(c *Check) bool { return c.MaxReplyLength != 0 }, "udp"},
	{"misc_path", func(c *Check) bool { return c.MiscPath != nil }, "exec"},
	{"misc_timeout", func(c *Check) bool { return c.MiscTimeout != nil }, "exec"},
	{"misc_dynamic", func(c *Check) bool { return c.MiscDynamic }, "exec"},
	{"user", func(c *Check) bool { return c.User != "" }, "exec"},
	{"group", func(c *Check) bool { return c.Group != "" }, "exec"},
}

// resolve checks c, a check of the real server d, and returns its
// definition, with its timing from the first of timings to set each
// field. The definition is then validated as package check will run it,
// once per distinct definition, and shared: the real servers whose
// check resolves to the same definition get the same pointer. It is nil
// if the check is wrong.
func (c *Check) resolve(r *report, path string, d ipvs.Destination, host string, timings ...*Timing) *check.Definition {
	field := func(name string) string { return join(path, name) }
	c.Timing.validate(r, path)
	def := check.Definition{Kind: check.Kind(c.Type), Mark: c.FWMark}
	if !slices.Contains(CheckTypes, c.Type) {
		r.addf(field("type"), "%q is not a check type: want one of %s", c.Type, strings.Join(CheckTypes, ", "))
		return nil
	}
	for _, f := range checkFields {
		if f.set(c) && !strings.Contains(" "+f.types+" ", " "+c.Type+" ") {
			r.addf(field(f.name), "applies to %s checks, and this one is %s", strings.ReplaceAll(f.types, " ", ", "), c.Type)
		}
	}
	resolveTiming(&def, timings)
	before := len(r.errs)
	if c.Type != "exec" {
		addr := d.Address
		if c.ConnectIP != "" {
			addr = address(r, field("connect_ip"), c.ConnectIP, "check address")
		}
		port := portOr(c.ConnectPort, d.Port)
		if port == 0 {
			r.addf(field("connect_port"), "is required: the real server has no port")
		}
		def.Target = netip.AddrPortFrom(addr, port)
		if c.BindTo != "" {
			def.Source = address(r, field("bindto"), c.BindTo, "source address")
		}
	}
	switch c.Type {
	case "http", "https":
		c.httpDefinition(r, path, host, &def.HTTP)
	case "udp":
		c.udpDefinition(r, path, &def.UDP)
	case "dns":
		def.DNS = check.DNSCheck{Name: c.QueryName, Type: strings.ToUpper(c.QueryType), RCode: strings.ToUpper(c.RCode), Answer: c.Answer}
	case "exec":
		if c.MiscPath == nil {
			r.addf(field("misc_path"), "is required for an exec check")
			break
		}
		def.Exec = check.ExecCheck{Command: c.MiscPath.Argv(), Dynamic: c.MiscDynamic, User: c.User, Group: c.Group}
		if c.MiscTimeout != nil {
			def.Timeout = time.Duration(*c.MiscTimeout)
		}
	}
	if len(r.errs) != before {
		return nil
	}
	return r.shared(path, &def)
}

// shared returns the definition of the source equal to def, a copy of
// it the first time, validated once per Key: a thousand virtual servers
// whose real servers share their endpoints share a hundred definitions,
// where a copy for each real server would be most of the configuration's
// heap. Definitions of one Key are one check to package check; they are
// shared only if equal as written, so that each real server's reads as
// its file says. The Key, which costs an encoding and a hash, is made
// for the distinct definitions only.
func (r *report) shared(path string, def *check.Definition) *check.Definition {
	b := defBucket{def.Kind, def.Target, def.HTTP.Path, def.Interval}
	if r.defs == nil {
		r.defs, r.checked = map[defBucket][]*check.Definition{}, map[check.Key]bool{}
	}
	for _, p := range r.defs[b] {
		if p.Equal(def) {
			return p
		}
	}
	p := new(check.Definition)
	*p = *def
	r.defs[b] = append(r.defs[b], p)
	if k := p.Key(); !r.checked[k] {
		r.checked[k] = true
		r.validateCheck(path, *p)
	}
	return p
}

// defBucket narrows the definitions that shared compares one with.
type defBucket struct {
	kind     check.Kind
	target   netip.AddrPort
	path     string
	interval time.Duration
}

// validateCheck reports what package check finds wrong with def: its
// programs and files are looked up there.
func (r *report) validateCheck(path string, def check.Definition) {
	err := check.Validate(def)
	var fe *check.FieldError
	if !errors.As(err, &fe) {
		if err != nil {
			r.addf(path, "%v", err)
		}
		return
	}
	name := fe.Field
	for prefix, yamlName := range checkFieldNames {
		if name == prefix || strings.HasPrefix(name, prefix+"[") {
			name = yamlName
			break
		}
	}
	r.addf(join(path, name), "%q: %s", fe.Value, fe.Reason)
}

// checkFieldNames are the configuration's names of the fields of
// package check's definitions.
var checkFieldNames = map[string]string{
	"kind": "type", "target": "connect_port", "source": "bindto", "mark": "fwmark",
	"interval": "delay_loop", "timeout": "connect_timeout", "retry_delay": "delay_before_retry",
	"http.path": "path", "http.host": "virtualhost", "http.status": "status_code", "http.regex": "regex",
	"http.regex_no_match": "regex_no_match", "http.digest": "digest", "http.tls.ca_file": "ca",
	"http.tls.cert_file": "certificate", "http.tls.key_file": "key", "http.tls.server_name": "sni_name",
	"udp.send": "payload", "udp.expect": "require_reply", "udp.expect_mask": "require_reply",
	"udp.min_reply": "min_reply_length", "udp.max_reply": "max_reply_length",
	"dns.name": "query_name", "dns.type": "query_type", "dns.rcode": "rcode", "dns.answer": "answer",
	"exec.command": "misc_path", "exec.user": "user", "exec.group": "group",
}

// resolveTiming sets the timing of def from the first of timings to set
// each field; what none sets is package check's default, but for retry
// (keepalived's 1) and warmup (the interval).
func resolveTiming(def *check.Definition, timings []*Timing) {
	dur := func(get func(*Timing) *Duration) time.Duration {
		for _, t := range timings {
			if v := get(t); v != nil {
				return time.Duration(*v)
			}
		}
		return 0
	}
	count := func(get func(*Timing) *uint32, def int) int {
		for _, t := range timings {
			if v := get(t); v != nil {
				return int(*v)
			}
		}
		return def
	}
	def.Interval = dur(func(t *Timing) *Duration { return t.DelayLoop })
	def.Timeout = dur(func(t *Timing) *Duration { return t.ConnectTimeout })
	def.RetryDelay = dur(func(t *Timing) *Duration { return t.DelayBeforeRetry })
	def.Warmup = dur(func(t *Timing) *Duration { return t.Warmup })
	if !slices.ContainsFunc(timings, func(t *Timing) bool { return t.Warmup != nil }) {
		def.Warmup = def.Interval
		if def.Warmup == 0 {
			def.Warmup = check.DefaultInterval
		}
	}
	def.Retry = count(func(t *Timing) *uint32 { return t.Retry }, DefaultRetry)
	def.Rise = count(func(t *Timing) *uint32 { return t.Rise }, 1)
	def.Fall = count(func(t *Timing) *uint32 { return t.Fall }, 1)
}

// httpDefinition resolves the fields of an http or https check.
func (c *Check) httpDefinition(r *report, path, host string, h *check.HTTPCheck) {
	*h = check.HTTPCheck{Path: c.Path, Host: c.VirtualHost, Regex: c.Regex, RegexNoMatch: c.RegexNoMatch, Digest: c.Digest}
	if h.Host == "" {
		h.Host = host
	}
	for _, s := range c.StatusCode {
		h.Status = append(h.Status, check.StatusRange{Min: s.Low, Max: s.High})
	}
	if c.Type == "https" {
		h.TLS = check.TLSOptions{ServerName: c.SNIName, SkipVerify: c.InsecureSkipVerify, CAFile: c.CA, CertFile: c.Certificate, KeyFile: c.Key}
	}
}

// udpDefinition resolves the fields of a udp check.
func (c *Check) udpDefinition(r *report, path string, u *check.UDPCheck) {
	if c.Payload != "" {
		b, _, ok := parseHex(c.Payload, false)
		if !ok {
			r.addf(join(path, "payload"), "%q is not bytes in hex", c.Payload)
		}
		u.Send = b
	}
	if c.RequireReply != nil {
		u.RequireReply = true
		b, mask, ok := parseHex(*c.RequireReply, true)
		if !ok {
			r.addf(join(path, "require_reply"), "%q is not bytes in hex (x for any digit)", *c.RequireReply)
		}
		u.Expect, u.ExpectMask = b, mask
		u.MinReply, u.MaxReply = c.MinReplyLength, c.MaxReplyLength
	} else if c.MinReplyLength != 0 || c.MaxReplyLength != 0 {
		r.addf(join(path, "min_reply_length"), "reply lengths apply with require_reply")
	}
}

// parseHex reads bytes in hex, spaces ignored, an odd last digit taken as
// a whole byte; with wild, an x or X is a digit that matches anything,
// whose bits are clear in the mask.
func parseHex(s string, wild bool) (b, mask []byte, ok bool) {
	digits := strings.Join(strings.Fields(s), "")
	if len(digits)%2 == 1 {
		digits = digits[:len(digits)-1] + "0" + digits[len(digits)-1:]
	}
	for i := 0; i < len(digits); i += 2 {
		var v, m byte
		for _, ch := range digits[i : i+2] {
			v, m = v<<4, m<<4
			switch {
			case ch >= '0' && ch <= '9':
				v, m = v|byte(ch-'0'), m|0xf
			case ch >= 'a' && ch <= 'f':
				v, m = v|byte(ch-'a'+10), m|0xf
			case ch >= 'A' && ch <= 'F':
				v, m = v|byte(ch-'A'+10), m|0xf
			case wild && (ch == 'x' || ch == 'X'):
			default:
				return nil, nil, false
			}
		}
		b, mask = append(b, v), append(mask, m)
	}
	return b, mask, true
}
