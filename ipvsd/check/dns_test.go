package check

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// zone is what the test's DNS responder knows: the name
// svc.example. has an A record and a TXT record, noisy.example. is
// answered after a stray response with another ID, and other names do
// not exist. "." has no records (NOERROR, no answer).
func zone(req []byte) [][]byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	reply := func(id uint16, rcode dnsmessage.RCode, answer func(*dnsmessage.Builder)) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RCode: rcode})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if answer != nil {
			answer(&b)
		}
		out, _ := b.Finish()
		return out
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch strings.ToLower(q.Name.String()) {
	case "svc.example.", "noisy.example.":
		answer := func(b *dnsmessage.Builder) {
			switch q.Type {
			case dnsmessage.TypeA:
				b.CNAMEResource(rh, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("alias.example.")})
				b.AResource(rh, dnsmessage.AResource{A: [4]byte{192, 0, 2, 9}})
				b.AResource(rh, dnsmessage.AResource{A: [4]byte{192, 0, 2, 10}})
			case dnsmessage.TypeTXT:
				b.TXTResource(rh, dnsmessage.TXTResource{TXT: []string{"v=ok; ", "up"}})
			}
		}
		out := [][]byte{reply(h.ID, dnsmessage.RCodeSuccess, answer)}
		if q.Name.String() == "noisy.example." {
			out = append([][]byte{reply(h.ID+1, dnsmessage.RCodeServerFailure, nil), []byte("junk")}, out...)
		}
		return out
	case ".":
		return [][]byte{reply(h.ID, dnsmessage.RCodeSuccess, nil)}
	}
	return [][]byte{reply(h.ID, dnsmessage.RCodeNameError, nil)}
}

func TestDNS(t *testing.T) {
	server := udpServer(t, zone)
	silent := udpServer(t, func([]byte) [][]byte { return nil })
	tests := []struct {
		name   string
		target netip.AddrPort
		dns    DNSCheck
		class  error // nil passes
		text   string
	}{
		{"keepalived's default: SOA of .", server, DNSCheck{}, nil, ""},
		{"A", server, DNSCheck{Name: "svc.example", Type: "A"}, nil, ""},
		{"A with answer", server, DNSCheck{Name: "SVC.example.", Type: "A", Answer: "192.0.2.10"}, nil, ""},
		{"A without that answer", server, DNSCheck{Name: "svc.example", Type: "A", Answer: "192.0.2.11"}, ErrMismatch, "response: no A record holds 192.0.2.11"},
		{"TXT", server, DNSCheck{Name: "svc.example", Type: "TXT", Answer: "v=ok; up"}, nil, ""},
		{"stray responses are read past", server, DNSCheck{Name: "noisy.example", Type: "A", Answer: "192.0.2.9"}, nil, ""},
		{"NXDOMAIN", server, DNSCheck{Name: "gone.example", Type: "A"}, ErrMismatch, "response: rcode NXDOMAIN, want NOERROR"},
		{"NXDOMAIN expected", server, DNSCheck{Name: "gone.example", Type: "A", RCode: "nxdomain"}, nil, ""},
		{"silence", silent, DNSCheck{}, ErrTimeout, "receive: timed out"},
		{"port unreachable", closedUDPPort(t), DNSCheck{}, ErrRefused, "receive: refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOutcome(t, Probe(context.Background(), Definition{Kind: KindDNS, Target: tt.target, Timeout: 300 * time.Millisecond, DNS: tt.dns}), tt.class, tt.text)
		})
	}
}
