package keepalived

import (
	"regexp"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// ipvsd's bounds on timing, which keepalived's are wider than.
const (
	minTimer = time.Millisecond
	maxRetry = 1000
)

// timing converts timing keywords, within ipvsd's bounds.
func (cv *converter) timing(t Timing, pos Pos) config.Timing {
	var out config.Timing
	dur := func(name string, d *time.Duration) *config.Duration {
		if d == nil {
			return nil
		}
		v := *d
		if v < minTimer {
			cv.rep.notef(pos, name, "%s is shorter than ipvsd's least, 1ms, which the import takes", v)
			v = minTimer
		}
		c := config.Duration(v)
		return &c
	}
	out.DelayLoop = dur("delay_loop", t.DelayLoop)
	out.ConnectTimeout = dur("connect_timeout", t.ConnectTimeout)
	out.DelayBeforeRetry = dur("delay_before_retry", t.DelayBeforeRetry)
	if t.Warmup != nil {
		w := config.Duration(*t.Warmup)
		out.Warmup = &w
	}
	if t.Retry != nil {
		r := *t.Retry
		if r > maxRetry {
			cv.rep.warnf(pos, "retry", "%d is more than ipvsd's most, %d, which the import takes", r, maxRetry)
			r = maxRetry
		}
		out.Retry = &r
	}
	return out
}

// check converts a checker into ipvsd's checks: one, or one for each url
// of an HTTP_GET or SSL_GET, since ipvsd's http check gets one path.
func (cv *converter) check(vs *VirtualServer, rs *RealServer, c *Checker) []config.Check {
	base := config.Check{FWMark: c.FWMark, ConnectPort: c.ConnectPort, Timing: cv.timing(c.Timing, c.Pos)}
	if c.ConnectIP.IsValid() {
		base.ConnectIP = c.ConnectIP.String()
	}
	if c.BindTo.IsValid() {
		base.BindTo = c.BindTo.String()
	}
	rsAlpha := vs.Alpha
	if rs.Alpha != nil {
		rsAlpha = *rs.Alpha
	}
	if c.Alpha != nil && *c.Alpha != rsAlpha {
		cv.rep.warnf(c.Pos, "alpha", "is %v on the checker and %v on its real server: ipvsd sets alpha per real server, and the import keeps the real server's", *c.Alpha, rsAlpha)
	}
	cv.kindDefaults(vs, rs, c, &base)
	switch c.Kind {
	case TCPCheck:
		base.Type = "tcp"
	case DNSCheck:
		base.Type = "dns"
		base.QueryType = cmpDefault(c.QueryType, "SOA")
		base.QueryName = cmpDefault(c.QueryName, ".")
	case UDPCheck:
		base.Type = "udp"
		base.Payload = c.Payload
		if c.RequireReply != nil {
			r := *c.RequireReply
			base.RequireReply = &r
			base.MaxReplyLength = 255
			if c.MaxReplyLength != nil {
				base.MaxReplyLength = *c.MaxReplyLength
			}
			if c.MinReplyLength != nil {
				base.MinReplyLength = *c.MinReplyLength
			}
		} else if c.MinReplyLength != nil || c.MaxReplyLength != nil {
			cv.rep.notef(c.Pos, "min_reply_length", "applies with require_reply only: keepalived ignores it here, and so does the import")
		}
	case MiscCheck:
		base.Type = "exec"
		base.MiscPath = &config.Command{Args: c.Path.Args}
		base.MiscDynamic = c.Dynamic
		// keepalived's default is the virtual server's delay_loop.
		t := defaultDelayLoop
		if vs.Timing.DelayLoop != nil {
			t = *vs.Timing.DelayLoop
		}
		if c.MiscTimeout != nil && *c.MiscTimeout > 0 {
			t = *c.MiscTimeout
		}
		d := config.Duration(max(t, minTimer))
		base.MiscTimeout = &d
	case HTTPGet, SSLGet:
		return cv.httpChecks(c, base)
	}
	return []config.Check{base}
}

// kindDefaults writes keepalived's defaults of a checker's kind where
// they differ from ipvsd's and nothing above the checker sets them:
// retry is 3 for DNS_CHECK and 0 for MISC_CHECK; delay_before_retry is
// 3s for HTTP_GET and SSL_GET, and the delay_loop for DNS_CHECK.
func (cv *converter) kindDefaults(vs *VirtualServer, rs *RealServer, c *Checker, out *config.Check) {
	if c.Timing.Retry == nil && rs.Timing.Retry == nil && vs.Timing.Retry == nil {
		switch c.Kind {
		case DNSCheck:
			r := uint32(3)
			out.Retry = &r
		case MiscCheck:
			r := uint32(0)
			out.Retry = &r
		}
	}
	if c.Timing.DelayBeforeRetry == nil && rs.Timing.DelayBeforeRetry == nil && vs.Timing.DelayBeforeRetry == nil {
		var d time.Duration
		switch c.Kind {
		case HTTPGet, SSLGet:
			d = 3 * time.Second
		case DNSCheck:
			d = firstDuration(defaultDelayLoop, c.Timing.DelayLoop, rs.Timing.DelayLoop, vs.Timing.DelayLoop)
		default:
			return
		}
		v := config.Duration(max(d, minTimer))
		out.DelayBeforeRetry = &v
	}
}

// firstDuration returns the first duration set, else def.
func firstDuration(def time.Duration, ds ...*time.Duration) time.Duration {
	for _, d := range ds {
		if d != nil {
			return *d
		}
	}
	return def
}

// httpChecks makes one http or https check of each url.
func (cv *converter) httpChecks(c *Checker, base config.Check) []config.Check {
	base.Type = "http"
	if c.Kind == SSLGet {
		base.Type = "https"
		// keepalived's SSL_GET does not verify the server's certificate.
		base.InsecureSkipVerify = true
		if s := cv.cfg.SSL; s != nil {
			base.CA, base.Certificate, base.Key = s.CA, s.Certificate, s.Key
		}
		if !c.EnableSNI {
			cv.rep.notef(c.Pos, SSLGet, "sends no server name without enable_sni; ipvsd's https check sends the virtual host's, or the address")
		}
	} else if c.EnableSNI {
		cv.rep.notef(c.Pos, "enable_sni", "applies to SSL_GET: keepalived ignores it here, and so does the import")
	}
	if c.FastRecovery != nil {
		cv.rep.notef(c.Pos, "fast_recovery", "ipvsd checks every url of a real server at once, as fast_recovery does")
	}
	if len(c.URLs) > 1 {
		cv.rep.notef(c.Pos, c.Kind, "its %d urls become %d checks: the real server is up while all pass, as in keepalived", len(c.URLs), len(c.URLs))
	}
	var out []config.Check
	for _, u := range c.URLs {
		chk := base
		chk.Path = u.Path
		chk.Digest = u.Digest
		chk.VirtualHost = cmpDefault(u.VirtualHost, c.VirtualHost)
		for _, s := range u.StatusCodes {
			chk.StatusCode = append(chk.StatusCode, config.StatusRange{Low: s.Low, High: s.High})
		}
		if u.Regex != "" {
			if _, err := regexp.Compile(u.Regex); err != nil {
				cv.rep.warnf(u.Pos, "regex", "not carried over: %q is not a regular expression Go reads (ipvsd's are RE2, keepalived's PCRE2): %v", u.Regex, err)
			} else {
				chk.Regex, chk.RegexNoMatch = u.Regex, u.RegexNoMatch
			}
		}
		out = append(out, chk)
	}
	return out
}
