package check

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsTypes are the record types a DNS check may query, by name.
var dnsTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "AAAA": dnsmessage.TypeAAAA, "NS": dnsmessage.TypeNS,
	"CNAME": dnsmessage.TypeCNAME, "SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX,
	"TXT": dnsmessage.TypeTXT, "PTR": dnsmessage.TypePTR, "SRV": dnsmessage.TypeSRV,
}

// dnsRCodes are the response codes a DNS check may expect, by name.
var dnsRCodes = map[string]dnsmessage.RCode{
	"NOERROR": dnsmessage.RCodeSuccess, "FORMERR": dnsmessage.RCodeFormatError,
	"SERVFAIL": dnsmessage.RCodeServerFailure, "NXDOMAIN": dnsmessage.RCodeNameError,
	"NOTIMP": dnsmessage.RCodeNotImplemented, "REFUSED": dnsmessage.RCodeRefused,
}

// errNotOurs marks a datagram that is no response to the probe's query.
var errNotOurs = errors.New("not a response to this query")

// prepareDNS checks the DNS options and builds the question.
func (s *spec) prepareDNS() error {
	q := &s.def.DNS
	t, ok := dnsTypes[q.Type]
	if !ok {
		return fieldErr("dns.type", q.Type, "not one of A, AAAA, NS, CNAME, SOA, MX, TXT, PTR, SRV")
	}
	name, err := dnsmessage.NewName(q.Name)
	if err != nil || hasControl(q.Name) || strings.Contains(q.Name, "..") && q.Name != "." {
		return fieldErr("dns.name", q.Name, "not a domain name")
	}
	for _, label := range strings.Split(strings.TrimSuffix(q.Name, "."), ".") {
		if len(label) > 63 {
			return fieldErr("dns.name", q.Name, "a label is longer than 63 bytes")
		}
	}
	rc, ok := dnsRCodes[q.RCode]
	if !ok {
		return fieldErr("dns.rcode", q.RCode, "not one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED")
	}
	if q.Answer != "" && (t == dnsmessage.TypeA || t == dnsmessage.TypeAAAA) {
		a, err := netip.ParseAddr(q.Answer)
		if err != nil || a.Is4() != (t == dnsmessage.TypeA) {
			return fieldErr("dns.answer", q.Answer, "not an address for a %s record", q.Type)
		}
	}
	s.question = dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}
	s.rcode = rc
	return nil
}

// probeDNS sends the query over UDP and judges the first datagram that
// answers it; others are read past until the timeout.
func (s *spec) probeDNS(ctx context.Context) Outcome {
	c, release, err := s.connect(ctx, "udp")
	if err != nil {
		return Outcome{Err: err}
	}
	defer release()
	id := uint16(rand.Uint32())
	query, err := s.dnsQuery(id)
	if err != nil {
		return Outcome{Err: err}
	}
	if _, err := c.Write(query); err != nil {
		return Outcome{Err: probeErr(ctx, "send query", err)}
	}
	bp := datagrams.Get().(*[]byte)
	defer datagrams.Put(bp)
	for {
		n, err := c.Read(*bp)
		if err != nil {
			return Outcome{Err: probeErr(ctx, "receive", err)}
		}
		if err := judgeDNS((*bp)[:n], id, s.question, s.rcode, s.def.DNS.Answer); err != errNotOurs {
			return Outcome{Err: err}
		}
	}
}

// dnsQuery builds the query with the ID id, recursion desired.
func (s *spec) dnsQuery(id uint16) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(s.question); err != nil {
		return nil, err
	}
	return b.Finish()
}

// judgeDNS judges a datagram as the response to the query id for q: its
// response code must be rcode, and if answer is set one answer record of
// q's type must hold it. It returns errNotOurs for a datagram that is no
// response to the query.
func judgeDNS(msg []byte, id uint16, q dnsmessage.Question, rcode dnsmessage.RCode, answer string) error {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response || h.ID != id {
		return errNotOurs
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return mismatch("response", err.Error())
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !sameName(qs[0].Name.String(), q.Name.String()) {
		return mismatch("response", "answers another question")
	}
	if h.RCode != rcode {
		return mismatch("response", "rcode "+rcodeName(h.RCode)+", want "+rcodeName(rcode))
	}
	if answer == "" {
		return nil
	}
	for {
		ah, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			return mismatch("response", "no "+typeName(q.Type)+" record holds "+answer)
		}
		if err != nil {
			return mismatch("response", err.Error())
		}
		if ah.Type != q.Type {
			if err := p.SkipAnswer(); err != nil {
				return mismatch("response", err.Error())
			}
			continue
		}
		got, err := answerText(&p, ah.Type)
		if err != nil {
			return mismatch("response", err.Error())
		}
		if answerEqual(ah.Type, got, answer) {
			return nil
		}
	}
}

// answerText reads the answer record the parser stands at as text.
func answerText(p *dnsmessage.Parser, t dnsmessage.Type) (string, error) {
	switch t {
	case dnsmessage.TypeA:
		r, err := p.AResource()
		return netip.AddrFrom4(r.A).String(), err
	case dnsmessage.TypeAAAA:
		r, err := p.AAAAResource()
		return netip.AddrFrom16(r.AAAA).String(), err
	case dnsmessage.TypeNS:
		r, err := p.NSResource()
		return r.NS.String(), err
	case dnsmessage.TypeCNAME:
		r, err := p.CNAMEResource()
		return r.CNAME.String(), err
	case dnsmessage.TypePTR:
		r, err := p.PTRResource()
		return r.PTR.String(), err
	case dnsmessage.TypeMX:
		r, err := p.MXResource()
		return r.MX.String(), err
	case dnsmessage.TypeSRV:
		r, err := p.SRVResource()
		return r.Target.String(), err
	case dnsmessage.TypeSOA:
		r, err := p.SOAResource()
		return r.NS.String(), err
	case dnsmessage.TypeTXT:
		r, err := p.TXTResource()
		return strings.Join(r.TXT, ""), err
	}
	return "", p.SkipAnswer()
}

// answerEqual compares a record's data with the expected answer: names
// without the final dot and case, addresses as addresses, text exactly.
func answerEqual(t dnsmessage.Type, got, want string) bool {
	switch t {
	case dnsmessage.TypeTXT:
		return got == want
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		g, err1 := netip.ParseAddr(got)
		w, err2 := netip.ParseAddr(want)
		return err1 == nil && err2 == nil && g == w
	}
	return sameName(got, want)
}

// sameName compares domain names without the final dot and case.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// typeName names a record type as DNS's texts do.
func typeName(t dnsmessage.Type) string {
	for name, c := range dnsTypes {
		if c == t {
			return name
		}
	}
	return "TYPE" + t.String()
}

// rcodeName names a response code as DNS's texts do.
func rcodeName(rc dnsmessage.RCode) string {
	for name, c := range dnsRCodes {
		if c == rc {
			return name
		}
	}
	return "RCODE" + rc.String()
}
