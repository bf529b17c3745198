package check

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The fuzz targets feed what a peer may send to the code that judges it:
// nothing may panic, and a pass must mean what the check asked.

func FuzzJudgeHTTP(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.0 503 Busy\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 999999999999 X\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	s, err := prepare(Definition{Kind: KindHTTP, Target: netip.MustParseAddrPort("192.0.2.1:80"),
		HTTP: HTTPCheck{Regex: "^hel+o", MaxBody: 64, Status: []StatusRange{{200, 204}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		r := bufio.NewReader(io.LimitReader(bytes.NewReader(resp), maxHeader+s.def.HTTP.MaxBody+1))
		if err := s.judgeHTTP(context.Background(), r); err == nil && !bytes.Contains(resp, []byte(" 20")) {
			t.Errorf("passed without a status of 200–204: %q", resp)
		}
	})
}

func FuzzJudgeDNS(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("svc.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	query, _ := (&spec{question: q}).dnsQuery(7)
	for _, r := range zone(query) {
		f.Add(r)
	}
	f.Add([]byte{0, 7, 0x80, 0, 0, 1, 0, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		err := judgeDNS(msg, 7, q, dnsmessage.RCodeSuccess, "192.0.2.10")
		if err == nil && !bytes.Contains(msg, []byte{192, 0, 2, 10}) {
			t.Errorf("passed without the answer: %x", msg)
		}
	})
}

func FuzzJudgeUDP(f *testing.F) {
	f.Add([]byte("pong"), []byte("pong"), []byte{}, 0, 0)
	f.Add([]byte("p"), []byte("pong"), []byte{0xff, 0, 0xff, 0}, 2, 3)
	f.Fuzz(func(t *testing.T, reply, expect, mask []byte, minReply, maxReply int) {
		u := UDPCheck{RequireReply: true, Expect: expect, ExpectMask: mask, MinReply: minReply, MaxReply: maxReply}
		if validateUDP(&u) != nil {
			return
		}
		if judgeUDP(&u, reply) == nil && len(reply) < minReply {
			t.Errorf("a reply of %d bytes passed a minimum of %d", len(reply), minReply)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("http", "/", "www.example.com", "ok", "", "example.com", "A", "NOERROR", int64(5), 200, 299)
	f.Add("dns", "", "", "", "", "a..b", "TXT", "nxdomain", int64(0), 0, 0)
	f.Fuzz(func(t *testing.T, kind, path, host, regex, digest, name, typ, rcode string, seconds int64, lo, hi int) {
		d := Definition{Kind: Kind(kind), Target: netip.MustParseAddrPort("192.0.2.1:80"), Timeout: time.Duration(seconds) * time.Second}
		switch d.Kind {
		case KindHTTP:
			d.HTTP = HTTPCheck{Path: path, Host: host, Regex: regex, Digest: digest, Status: []StatusRange{{lo, hi}}}
		case KindDNS:
			d.DNS = DNSCheck{Name: name, Type: typ, RCode: rcode}
		}
		if Validate(d) != nil {
			return
		}
		s, err := prepare(d)
		if err != nil {
			t.Fatalf("Validate passed, prepare: %v", err)
		}
		if s.key != d.Key() || d.Key() != s.def.Key() {
			t.Errorf("key changes with normalization: %s %s", d.Key(), s.def.Key())
		}
		if d.Kind == KindDNS {
			if _, err := s.dnsQuery(1); err != nil {
				t.Errorf("a valid DNS check cannot build its query: %v", err)
			}
		}
	})
}
