package keepalived

import (
	"math"
	"strings"
	"time"
)

// checkers are the handlers of the checker blocks of a real server.
func (d *decoder) checkers(rs *RealServer) map[string]handler {
	add := func(kind string) handler {
		return func(n *node) {
			if c := d.checker(n, kind); c != nil {
				rs.Checkers = append(rs.Checkers, c)
			}
		}
	}
	unsupported := func(why string) handler {
		return func(n *node) {
			d.rep.warnf(n.pos, n.keyword(), "not carried over: %s; without it the real server is checked by its other checkers, or is always up", why)
		}
	}
	return map[string]handler{
		TCPCheck:       add(TCPCheck),
		HTTPGet:        add(HTTPGet),
		SSLGet:         add(SSLGet),
		MiscCheck:      add(MiscCheck),
		DNSCheck:       add(DNSCheck),
		UDPCheck:       add(UDPCheck),
		"SMTP_CHECK":   unsupported("ipvsd has no SMTP check (an exec check can run one)"),
		"PING_CHECK":   unsupported("ipvsd has no ICMP echo check (an exec check can run ping)"),
		"FILE_CHECK":   unsupported("ipvsd has no file check (an exec check can read the file)"),
		"BFD_CHECK":    unsupported("ipvsd does not speak BFD"),
		"track_file":   unsupported("ipvsd does not track files"),
		"nb_get_retry": func(n *node) { d.errorfNode(n, "belongs in an HTTP_GET or SSL_GET block") },
	}
}

// checker decodes a checker block of the given kind.
func (d *decoder) checker(n *node, kind string) *Checker {
	c := &Checker{Pos: n.pos, Kind: kind}
	if len(n.words) > 1 {
		d.errorfNode(n, "takes no values, and %q follows it", n.words[1])
		return nil
	}
	h := d.timing(&c.Timing, 0)
	h["alpha"] = func(x *node) {
		if v, ok := d.flag(x); ok {
			c.Alpha = &v
		}
	}
	h["log_all_failures"] = d.notCarried("ipvsd logs every change of state, and counts every failure in its metrics")
	if kind != MiscCheck {
		merge(h, d.connection(c))
	}
	switch kind {
	case HTTPGet, SSLGet:
		merge(h, d.httpKeywords(c))
	case DNSCheck:
		h["type"] = func(x *node) {
			if v, ok := d.value(x, "a query type"); ok {
				v = strings.ToUpper(v)
				if !strings.Contains(" A NS CNAME SOA MX TXT AAAA ", " "+v+" ") {
					d.errorfNode(x, "%q is not a type keepalived asks: A, NS, CNAME, SOA, MX, TXT or AAAA", x.words[1])
					return
				}
				c.QueryType = v
			}
		}
		h["name"] = func(x *node) {
			if v, ok := d.value(x, "a domain name"); ok {
				c.QueryName = v
			}
		}
	case UDPCheck:
		merge(h, d.udpKeywords(c))
	case MiscCheck:
		h["misc_path"] = func(x *node) {
			if !d.leaf(x) {
				return
			}
			c.Path = d.command(x)
			if qw, _ := shellWords(x.text); len(qw) > 2 {
				d.rep.warnf(x.pos, "misc_path", "keepalived runs %q alone and drops %q: quote the whole command to give it arguments; the import does as keepalived", qw[1], strings.Join(qw[2:], " "))
			}
		}
		h["misc_timeout"] = func(x *node) {
			var v *uint32
			if d.number(x, 0, math.MaxUint32/1000000, &v); v != nil {
				t := time.Duration(*v) * time.Second
				c.MiscTimeout = &t
			}
		}
		h["misc_dynamic"] = func(x *node) { c.Dynamic = d.leaf(x) || c.Dynamic }
		h["user"] = func(x *node) {
			d.rep.warnf(x.pos, "user", "not carried over: ipvsd runs checks as its own user; run the program through sudo or setpriv to change it")
		}
	}
	if !d.block(n, h) {
		return nil
	}
	if kind == MiscCheck && c.Path == nil {
		d.errorfNode(n, "has no misc_path: keepalived drops such a checker")
		return nil
	}
	if (kind == HTTPGet || kind == SSLGet) && len(c.URLs) == 0 {
		d.errorfNode(n, "has no url with a path: keepalived would check nothing")
		return nil
	}
	return c
}

// connection are the handlers of the connection keywords of every
// checker but MISC_CHECK.
func (d *decoder) connection(c *Checker) map[string]handler {
	return map[string]handler{
		"connect_ip": func(n *node) {
			if v, ok := d.value(n, "an address"); ok {
				if a, err := parseAddr(v); d.check(n, err) {
					c.ConnectIP = a
				}
			}
		},
		"connect_port": func(n *node) {
			if v, ok := d.value(n, "a port"); ok {
				if p, err := parsePort(v); d.check(n, err) {
					c.ConnectPort = p
				}
			}
		},
		"bindto": func(n *node) {
			if v, ok := d.value(n, "an address"); ok {
				if a, err := parseAddr(v); d.check(n, err) {
					c.BindTo = a
				}
			}
		},
		"bind_port": func(n *node) {
			d.rep.warnf(n.pos, "bind_port", "not carried over: ipvsd's checks use a port of the kernel's choice")
		},
		"bind_if": func(n *node) {
			d.rep.warnf(n.pos, "bind_if", "not carried over: ipvsd's checks go out by the route to the real server")
		},
		"fwmark": func(n *node) {
			var v *uint32
			if d.number(n, 0, math.MaxUint32, &v); v != nil {
				c.FWMark = *v
			}
		},
	}
}

// httpKeywords are the handlers of HTTP_GET and SSL_GET.
func (d *decoder) httpKeywords(c *Checker) map[string]handler {
	return map[string]handler{
		"nb_get_retry": func(n *node) {
			d.rep.notef(n.pos, "nb_get_retry", "is keepalived's old name of retry, and is taken as retry")
			d.number(n, 0, math.MaxUint32, &c.Timing.Retry)
		},
		"virtualhost": func(n *node) {
			if v, ok := d.value(n, "a host name"); ok {
				c.VirtualHost = v
			}
		},
		"http_protocol": func(n *node) {
			if v, ok := d.value(n, "1.0, 1.0C or 1.1"); ok {
				switch v {
				case "1.0", "1.0C", "1.0c", "1.1":
					c.HTTPProtocol = v
					d.rep.notef(n.pos, "http_protocol", "ipvsd's checks speak HTTP/1.1 and close each connection")
				default:
					d.errorfNode(n, "%q is not 1.0, 1.0C or 1.1", v)
				}
			}
		},
		"enable_sni": func(n *node) { c.EnableSNI = d.leaf(n) || c.EnableSNI },
		"fast_recovery": func(n *node) {
			if v, ok := d.flag(n); ok {
				c.FastRecovery = &v
			}
		},
		"url": func(n *node) {
			if u := d.url(n); u != nil {
				c.URLs = append(c.URLs, u)
			}
		},
	}
}

// url decodes a url block.
func (d *decoder) url(n *node) *URL {
	u := &URL{Pos: n.pos}
	str := func(dst *string, what string) handler {
		return func(x *node) {
			if v, ok := d.value(x, what); ok {
				*dst = v
			}
		}
	}
	regexOption := func(why string) handler {
		return func(x *node) { d.rep.warnf(x.pos, x.keyword(), "not carried over: %s", why) }
	}
	d.block(n, map[string]handler{
		"path":        str(&u.Path, "a path"),
		"digest":      str(&u.Digest, "an MD5 digest in hex"),
		"virtualhost": str(&u.VirtualHost, "a host name"),
		"regex":       str(&u.Regex, "a regular expression"),
		"status_code": func(x *node) {
			if !d.leaf(x) {
				return
			}
			codes, err := parseStatusCodes(x.args())
			if d.check(x, err) {
				u.StatusCodes = append(u.StatusCodes, codes...)
			}
		},
		"regex_no_match":   func(x *node) { u.RegexNoMatch = d.leaf(x) || u.RegexNoMatch },
		"regex_options":    regexOption("ipvsd's regular expressions are Go's (RE2); write the options into the expression, as (?i) or (?s)"),
		"regex_min_offset": regexOption("ipvsd matches the whole body"),
		"regex_max_offset": regexOption("ipvsd matches the whole body"),
		"regex_stack":      regexOption("Go's regular expressions need no stack"),
	})
	if u.Path == "" {
		d.errorfNode(n, "has no path: keepalived ignores such a url")
		return nil
	}
	if u.Digest != "" && (len(u.Digest) != 32 || parseHexString(u.Digest, false) != nil) {
		d.rep.errorf(n.pos, "digest", "%q is not an MD5 digest: 32 hex digits, as genhash prints it", u.Digest)
		return nil
	}
	return u
}

// udpKeywords are the handlers of UDP_CHECK.
func (d *decoder) udpKeywords(c *Checker) map[string]handler {
	length := func(dst **int) handler {
		return func(n *node) {
			var v *uint32
			if d.number(n, 0, 65535, &v); v != nil {
				l := int(*v)
				*dst = &l
			}
		}
	}
	return map[string]handler{
		"payload": func(n *node) {
			if !d.leaf(n) {
				return
			}
			s := strings.Join(n.args(), " ")
			if d.check(n, parseHexString(s, false)) {
				c.Payload = s
			}
		},
		"require_reply": func(n *node) {
			if !d.leaf(n) {
				return
			}
			s := strings.Join(n.args(), " ")
			if d.check(n, parseHexString(s, true)) {
				c.RequireReply = &s
			}
		},
		"min_reply_length": length(&c.MinReplyLength),
		"max_reply_length": length(&c.MaxReplyLength),
	}
}
