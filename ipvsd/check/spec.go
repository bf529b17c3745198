package check

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"hash"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// spec is a validated, normalized definition with what its probes need
// made once: the request bytes, the compiled regex, the TLS
// configuration, the DNS question.
type spec struct {
	def Definition
	key Key

	// HTTP
	request []byte
	regex   *regexp.Regexp
	digest  []byte
	newHash func() hash.Hash
	tls     *tls.Config

	// DNS
	question dnsmessage.Question
	rcode    dnsmessage.RCode

	// exec
	path  string
	runAs *ids // nil: as the daemon
}

// ids are a user's and a group's numbers.
type ids struct {
	uid, gid uint32
}

// prepare validates d and makes its spec.
func prepare(d Definition) (*spec, error) {
	return prepareKeyed(d, d.Key(), newFileCache())
}

// prepareKeyed validates d, whose Key is k, and makes its spec, reading
// the files it names through files.
func prepareKeyed(d Definition, k Key, files *fileCache) (*spec, error) {
	n := d.normalized()
	if err := validateCommon(&n); err != nil {
		return nil, err
	}
	s := &spec{def: n, key: k}
	var err error
	switch n.Kind {
	case KindHTTP, KindHTTPS:
		err = s.prepareHTTP(files)
	case KindUDP:
		err = validateUDP(&n.UDP)
	case KindDNS:
		err = s.prepareDNS()
	case KindExec:
		err = s.prepareExec()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// prepareHTTP checks the HTTP options and builds the request.
func (s *spec) prepareHTTP(files *fileCache) error {
	h := &s.def.HTTP
	if !strings.HasPrefix(h.Path, "/") || hasControl(h.Path) {
		return fieldErr("http.path", h.Path, "must start with / and hold no spaces or control characters")
	}
	if hasControl(h.Host) {
		return fieldErr("http.host", h.Host, "holds a space or a control character")
	}
	for i, r := range h.Status {
		if r.Min < 100 || r.Max > 599 || r.Min > r.Max {
			return fieldErr("http.status["+strconv.Itoa(i)+"]", rangeText(r), "not a range of codes within 100–599")
		}
	}
	if h.Regex != "" {
		re, err := regexp.Compile(h.Regex)
		if err != nil {
			return fieldErr("http.regex", h.Regex, "%v", err)
		}
		s.regex = re
	} else if h.RegexNoMatch {
		return fieldErr("http.regex_no_match", true, "needs a regex")
	}
	if h.Digest != "" {
		b, err := hex.DecodeString(h.Digest)
		switch {
		case err != nil:
			return fieldErr("http.digest", h.Digest, "not hexadecimal")
		case len(b) == md5.Size:
			s.newHash = md5.New
		case len(b) == sha256.Size:
			s.newHash = sha256.New
		default:
			return fieldErr("http.digest", h.Digest, "neither an MD5 (32 digits) nor a SHA-256 (64 digits)")
		}
		s.digest = b
	}
	if h.MaxBody < 0 || h.MaxBody > 1<<30 {
		return fieldErr("http.max_body", h.MaxBody, "not between 0 and 1 GiB")
	}
	host := h.Host
	if host == "" {
		host = s.def.Target.String()
		if s.def.Target.Port() == 80 && s.def.Kind == KindHTTP || s.def.Target.Port() == 443 && s.def.Kind == KindHTTPS {
			host = hostLiteral(s.def.Target.Addr())
		}
	}
	s.request = []byte("GET " + h.Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: ipvsd-check\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	if s.def.Kind == KindHTTPS {
		return s.prepareTLS(files)
	}
	return nil
}

// hostLiteral writes an address as a Host header's host: IPv6 in
// brackets.
func hostLiteral(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// rangeText writes a status range as "200-299", or "200".
func rangeText(r StatusRange) string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// prepareTLS loads the TLS files and builds the client configuration.
// Each check has its own session cache, so that its probes resume their
// sessions rather than make a full handshake each time.
func (s *spec) prepareTLS(files *fileCache) error {
	o := &s.def.HTTP.TLS
	c := &tls.Config{
		InsecureSkipVerify: o.SkipVerify,
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
		MinVersion:         tls.VersionTLS12,
	}
	switch {
	case o.ServerName != "":
		c.ServerName = o.ServerName
	case s.def.HTTP.Host != "" && !isAddress(s.def.HTTP.Host):
		c.ServerName = hostOnly(s.def.HTTP.Host)
	default:
		// No SNI is sent for an address; the certificate is verified
		// against it.
		c.ServerName = s.def.Target.Addr().WithZone("").String()
	}
	if o.CAFile != "" {
		pool, err := files.certPool(o.CAFile)
		if err != nil {
			return fieldErr("http.tls.ca_file", o.CAFile, "%v", err)
		}
		c.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fieldErr("http.tls.cert_file", o.CertFile, "a client certificate needs both cert_file and key_file")
	}
	if o.CertFile != "" {
		cert, err := files.keyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fieldErr("http.tls.cert_file", o.CertFile, "%v", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	s.tls = c
	return nil
}

// isAddress reports whether host, with or without a port, is an IP
// address.
func isAddress(host string) bool {
	_, err := netip.ParseAddr(strings.Trim(hostOnly(host), "[]"))
	return err == nil
}

// hostOnly drops a ":port" from a Host header value.
func hostOnly(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[:i+1]
		}
		return host
	}
	if strings.Count(host, ":") == 1 {
		return host[:strings.IndexByte(host, ':')]
	}
	return host
}

// validateUDP checks a UDP check's options.
func validateUDP(u *UDPCheck) error {
	if !u.RequireReply {
		switch {
		case len(u.Expect) > 0:
			return fieldErr("udp.expect", hex.EncodeToString(u.Expect), "needs require_reply")
		case u.MinReply != 0 || u.MaxReply != 0:
			return fieldErr("udp.min_reply", u.MinReply, "reply lengths need require_reply")
		}
	}
	if len(u.ExpectMask) > 0 && len(u.ExpectMask) != len(u.Expect) {
		return fieldErr("udp.expect_mask", hex.EncodeToString(u.ExpectMask), "not as long as expect (%d bytes)", len(u.Expect))
	}
	if len(u.Send) > 65507 {
		return fieldErr("udp.send", len(u.Send), "longer than a UDP datagram can be")
	}
	if u.MinReply < 0 || u.MinReply > 65507 {
		return fieldErr("udp.min_reply", u.MinReply, "not between 0 and 65507")
	}
	if u.MaxReply < 0 || u.MaxReply > 65507 || u.MaxReply != 0 && u.MaxReply < u.MinReply {
		return fieldErr("udp.max_reply", u.MaxReply, "not between min_reply and 65507")
	}
	return nil
}

// prepareExec checks the command and finds its program.
func (s *spec) prepareExec() error {
	e := &s.def.Exec
	if len(e.Command) == 0 || e.Command[0] == "" {
		return fieldErr("exec.command", strings.Join(e.Command, " "), "empty")
	}
	for i, a := range e.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return fieldErr("exec.command["+strconv.Itoa(i)+"]", a, "holds a NUL byte")
		}
	}
	path, err := exec.LookPath(e.Command[0])
	if err != nil {
		return fieldErr("exec.command[0]", e.Command[0], "%v", err)
	}
	if e.MaxOutput < 0 || e.MaxOutput > 1<<20 {
		return fieldErr("exec.max_output", e.MaxOutput, "not between 0 and 1 MiB")
	}
	if e.Group != "" && e.User == "" {
		return fieldErr("exec.group", e.Group, "needs a user")
	}
	if e.User != "" {
		runAs, field, err := lookupIDs(e.User, e.Group)
		if err != nil {
			value := e.User
			if field == "exec.group" {
				value = e.Group
			}
			return fieldErr(field, value, "%v", err)
		}
		s.runAs = runAs
	}
	s.path = path
	return nil
}
