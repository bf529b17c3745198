package config

import (
	"encoding/hex"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
)

// CheckTypes are the kinds of check.
var CheckTypes = []string{"tcp", "http", "https", "udp", "dns", "exec"}

// dnsTypes are the query types a dns check may ask, with their numbers.
var dnsTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}

// checkField is a field of Check that applies to some types only.
type checkField struct {
	name  string
	set   func(c *Check) bool
	types string // space-separated
}

var checkFields = []checkField{
	{"connect_ip", func(c *Check) bool { return c.ConnectIP != "" }, "tcp http https udp dns"},
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
	{"misc_path", func(c *Check) bool { return c.MiscPath != nil }, "exec"},
	{"misc_timeout", func(c *Check) bool { return c.MiscTimeout != nil }, "exec"},
	{"misc_dynamic", func(c *Check) bool { return c.MiscDynamic }, "exec"},
}

// resolve checks c, a check of the real server d, and returns its probe,
// with its timing from the first of timings to set each field.
func (c *Check) resolve(r *report, path string, d ipvs.Destination, host string, timings ...*Timing) Probe {
	field := func(name string) string { return join(path, name) }
	c.Timing.validate(r, path)
	p := Probe{Type: c.Type}
	known := false
	for _, t := range CheckTypes {
		known = known || t == c.Type
	}
	if !known {
		r.addf(field("type"), "%q is not a check type: want one of %s", c.Type, strings.Join(CheckTypes, ", "))
		return p
	}
	for _, f := range checkFields {
		if f.set(c) && !strings.Contains(" "+f.types+" ", " "+c.Type+" ") {
			r.addf(field(f.name), "applies to %s checks, and this one is %s", strings.ReplaceAll(f.types, " ", ", "), c.Type)
		}
	}
	resolveTiming(&p, timings)

	if c.Type != "exec" {
		addr := d.Address
		if c.ConnectIP != "" {
			addr = address(r, field("connect_ip"), c.ConnectIP, "check address")
		}
		port := portOr(c.ConnectPort, d.Port)
		if port == 0 {
			r.addf(field("connect_port"), "is required: the real server has no port")
		}
		p.Target = netip.AddrPortFrom(addr, port)
		if c.BindTo != "" {
			p.Source = address(r, field("bindto"), c.BindTo, "source address")
		}
	}
	switch c.Type {
	case "http", "https":
		p.HTTP = c.httpProbe(r, path, host)
	case "udp":
		p.UDP = c.udpProbe(r, path)
	case "dns":
		p.DNS = &DNSProbe{Name: c.QueryName, Type: dnsTypes["SOA"]}
		if p.DNS.Name == "" {
			p.DNS.Name = "."
		}
		if c.QueryType != "" {
			t, ok := dnsTypes[strings.ToUpper(c.QueryType)]
			if !ok {
				r.addf(field("query_type"), "%q is not a query type: want A, AAAA, CNAME, MX, NS, SOA or TXT", c.QueryType)
			}
			p.DNS.Type = t
		}
	case "exec":
		if c.MiscPath == nil {
			r.addf(field("misc_path"), "is required for an exec check")
			break
		}
		p.Exec = &ExecProbe{Argv: c.MiscPath.Argv(), Dynamic: c.MiscDynamic}
		if c.MiscTimeout != nil {
			if *c.MiscTimeout == 0 {
				r.addf(field("misc_timeout"), "is 0")
			}
			p.Timeout = time.Duration(*c.MiscTimeout)
		}
	}
	return p
}

// resolveTiming sets the timing of p from the first of timings to set
// each field, else the defaults.
func resolveTiming(p *Probe, timings []*Timing) {
	dur := func(get func(*Timing) *Duration, def time.Duration) time.Duration {
		for _, t := range timings {
			if v := get(t); v != nil {
				return time.Duration(*v)
			}
		}
		return def
	}
	count := func(get func(*Timing) *uint32, def uint32) uint32 {
		for _, t := range timings {
			if v := get(t); v != nil {
				return *v
			}
		}
		return def
	}
	p.Interval = dur(func(t *Timing) *Duration { return t.DelayLoop }, DefaultDelayLoop)
	p.Timeout = dur(func(t *Timing) *Duration { return t.ConnectTimeout }, DefaultConnectTimeout)
	p.RetryDelay = dur(func(t *Timing) *Duration { return t.DelayBeforeRetry }, DefaultDelayBeforeRetry)
	p.Warmup = dur(func(t *Timing) *Duration { return t.Warmup }, p.Interval)
	p.Fall = int(count(func(t *Timing) *uint32 { return t.Retry }, DefaultRetry)) + 1
	p.Rise = int(count(func(t *Timing) *uint32 { return t.Rise }, DefaultRise))
}

// httpProbe resolves the fields of an http or https check.
func (c *Check) httpProbe(r *report, path, host string) *HTTPProbe {
	field := func(name string) string { return join(path, name) }
	h := &HTTPProbe{Path: c.Path, Host: c.VirtualHost, Status: c.StatusCode, RegexNoMatch: c.RegexNoMatch,
		ServerName: c.SNIName, InsecureSkipVerify: c.InsecureSkipVerify, CA: c.CA, Certificate: c.Certificate, Key: c.Key}
	if h.Path == "" {
		h.Path = "/"
	} else if !strings.HasPrefix(h.Path, "/") {
		r.addf(field("path"), "%q does not start with /", c.Path)
	}
	if h.Host == "" {
		h.Host = host
	}
	if h.Status == nil {
		h.Status = StatusCodes{{200, 299}}
	}
	if h.ServerName == "" {
		h.ServerName = h.Host
	}
	if c.Digest != "" {
		b, err := hex.DecodeString(c.Digest)
		if err != nil || len(b) != 16 && len(b) != 32 {
			r.addf(field("digest"), "%q is not an MD5 or SHA-256 digest in hex", c.Digest)
		}
		h.Digest = b
	}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			r.addf(field("regex"), "%q: %v", c.Regex, err)
		}
		h.Regex = re
	} else if c.RegexNoMatch {
		r.addf(field("regex_no_match"), "needs a regex")
	}
	if (c.Certificate == "") != (c.Key == "") {
		r.addf(field("certificate"), "a client certificate needs both certificate and key")
	}
	return h
}

// udpProbe resolves the fields of a udp check.
func (c *Check) udpProbe(r *report, path string) *UDPProbe {
	u := &UDPProbe{}
	if c.Payload != "" {
		b, _, ok := parseHex(c.Payload, false)
		if !ok {
			r.addf(join(path, "payload"), "%q is not bytes in hex", c.Payload)
		}
		u.Payload = b
	}
	if c.RequireReply != nil {
		u.WantReply = true
		b, mask, ok := parseHex(*c.RequireReply, true)
		if !ok {
			r.addf(join(path, "require_reply"), "%q is not bytes in hex (x for any digit)", *c.RequireReply)
		}
		u.Reply, u.Mask = b, mask
	}
	return u
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
