package check

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	web := netip.MustParseAddrPort("192.0.2.1:80")
	tests := []struct {
		name  string
		def   Definition
		field string // "" when valid
	}{
		{"tcp", Definition{Kind: KindTCP, Target: web}, ""},
		{"no kind", Definition{Target: web}, "kind"},
		{"unknown kind", Definition{Kind: "smtp", Target: web}, "kind"},
		{"no target", Definition{Kind: KindTCP}, "target"},
		{"port 0", Definition{Kind: KindTCP, Target: netip.MustParseAddrPort("192.0.2.1:0")}, "target"},
		{"unspecified target", Definition{Kind: KindTCP, Target: netip.MustParseAddrPort("0.0.0.0:80")}, "target"},
		{"source of another family", Definition{Kind: KindTCP, Target: web, Source: netip.MustParseAddr("::1")}, "source"},
		{"mapped source", Definition{Kind: KindTCP, Target: web, Source: netip.MustParseAddr("::ffff:192.0.2.9")}, ""},
		{"negative timeout", Definition{Kind: KindTCP, Target: web, Timeout: -1}, "timeout"},
		{"tiny interval", Definition{Kind: KindTCP, Target: web, Interval: time.Microsecond}, "interval"},
		{"negative warmup", Definition{Kind: KindTCP, Target: web, Warmup: -time.Second}, "warmup"},
		{"negative retry", Definition{Kind: KindTCP, Target: web, Retry: -1}, "retry"},
		{"huge fall", Definition{Kind: KindTCP, Target: web, Fall: 1001}, "fall"},
		{"http options on tcp", Definition{Kind: KindTCP, Target: web, HTTP: HTTPCheck{Path: "/x"}}, "http"},
		{"tls on http", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{TLS: TLSOptions{SkipVerify: true}}}, "http.tls"},
		{"udp options on dns", Definition{Kind: KindDNS, Target: web, UDP: UDPCheck{RequireReply: true}}, "udp"},
		{"http", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Path: "/health?x=1", Host: "www.example.com",
			Status: []StatusRange{{200, 204}, {301, 301}}, Regex: "ok|OK", Digest: strings.Repeat("ab", 16)}}, ""},
		{"path without slash", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Path: "health"}}, "http.path"},
		{"path with CRLF", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Path: "/\r\nX: y"}}, "http.path"},
		{"host with space", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Host: "a b"}}, "http.host"},
		{"status out of range", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Status: []StatusRange{{200, 200}, {600, 700}}}}, "http.status[1]"},
		{"status reversed", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Status: []StatusRange{{299, 200}}}}, "http.status[0]"},
		{"bad regex", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Regex: "("}}, "http.regex"},
		{"no_match without regex", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{RegexNoMatch: true}}, "http.regex_no_match"},
		{"digest not hex", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Digest: "zz"}}, "http.digest"},
		{"digest of another size", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Digest: "abcd"}}, "http.digest"},
		{"sha256 digest", Definition{Kind: KindHTTP, Target: web, HTTP: HTTPCheck{Digest: strings.Repeat("AB", 32)}}, ""},
		{"ca file missing", Definition{Kind: KindHTTPS, Target: web, HTTP: HTTPCheck{TLS: TLSOptions{CAFile: "/nonexistent/ca.pem"}}}, "http.tls.ca_file"},
		{"cert without key", Definition{Kind: KindHTTPS, Target: web, HTTP: HTTPCheck{TLS: TLSOptions{CertFile: "c.pem"}}}, "http.tls.cert_file"},
		{"udp", Definition{Kind: KindUDP, Target: web, UDP: UDPCheck{Send: []byte("ping"), RequireReply: true, Expect: []byte("po"), ExpectMask: []byte{0xff, 0xf0}}}, ""},
		{"expect without require_reply", Definition{Kind: KindUDP, Target: web, UDP: UDPCheck{Expect: []byte("x")}}, "udp.expect"},
		{"mask of another length", Definition{Kind: KindUDP, Target: web, UDP: UDPCheck{RequireReply: true, Expect: []byte("xy"), ExpectMask: []byte{1}}}, "udp.expect_mask"},
		{"max below min", Definition{Kind: KindUDP, Target: web, UDP: UDPCheck{RequireReply: true, MinReply: 10, MaxReply: 5}}, "udp.max_reply"},
		{"dns", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{Name: "example.com", Type: "a", Answer: "192.0.2.7"}}, ""},
		{"dns type", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{Type: "HINFO"}}, "dns.type"},
		{"dns rcode", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{RCode: "NOPE"}}, "dns.rcode"},
		{"dns name", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{Name: "a..b"}}, "dns.name"},
		{"dns long label", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{Name: strings.Repeat("a", 64) + ".com"}}, "dns.name"},
		{"dns answer of another family", Definition{Kind: KindDNS, Target: web, DNS: DNSCheck{Type: "AAAA", Answer: "192.0.2.7"}}, "dns.answer"},
		{"exec", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}}}, ""},
		{"exec with target", Definition{Kind: KindExec, Target: web, Exec: ExecCheck{Command: []string{"/bin/sh", "-c", "exit 0"}, Dynamic: true}}, ""},
		{"exec without command", Definition{Kind: KindExec}, "exec.command"},
		{"exec not found", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"/nonexistent/check"}}}, "exec.command[0]"},
		{"exec as nobody", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}, User: "nobody"}}, ""},
		{"exec as a stranger", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}, User: "no-such-user-here"}}, "exec.user"},
		{"exec in a strange group", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}, User: "nobody", Group: "no-such-group-here"}}, "exec.group"},
		{"exec group without user", Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}, Group: "0"}}, "exec.group"},
		{"exec with source", Definition{Kind: KindExec, Source: netip.MustParseAddr("192.0.2.2"), Exec: ExecCheck{Command: []string{"true"}}}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.def)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate: %v, want a *FieldError for %s", err, tt.field)
			}
			if fe.Field != tt.field {
				t.Errorf("Validate: field %q (%v), want %q", fe.Field, err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "check: "+tt.field+" ") {
				t.Errorf("error text %q does not start with the field", err)
			}
		})
	}
}

func TestKey(t *testing.T) {
	base := Definition{Kind: KindHTTP, Target: netip.MustParseAddrPort("192.0.2.1:8080"),
		HTTP: HTTPCheck{Status: []StatusRange{{301, 302}, {200, 299}}}}
	same := []Definition{
		// Defaults spelled out, ranges in another order, repeated.
		{Kind: KindHTTP, Target: netip.MustParseAddrPort("192.0.2.1:8080"), Interval: DefaultInterval,
			Timeout: DefaultTimeout, Rise: 1, Fall: 1, RetryDelay: DefaultRetryDelay,
			HTTP: HTTPCheck{Path: "/", MaxBody: DefaultMaxBody, Status: []StatusRange{{200, 299}, {301, 302}, {200, 299}}}},
		// An IPv4-mapped target.
		{Kind: KindHTTP, Target: netip.MustParseAddrPort("[::ffff:192.0.2.1]:8080"),
			HTTP: HTTPCheck{Status: []StatusRange{{200, 299}, {301, 302}}}},
	}
	for i, d := range same {
		if d.Key() != base.Key() {
			t.Errorf("definition %d: key %s, want %s", i, d.Key(), base.Key())
		}
	}
	differ := []func(*Definition){
		func(d *Definition) { d.Kind = KindHTTPS },
		func(d *Definition) { d.Target = netip.MustParseAddrPort("192.0.2.1:8081") },
		func(d *Definition) { d.Source = netip.MustParseAddr("192.0.2.9") },
		func(d *Definition) { d.Mark = 1 },
		func(d *Definition) { d.Interval = time.Second },
		func(d *Definition) { d.Timeout = time.Second },
		func(d *Definition) { d.Rise = 2 },
		func(d *Definition) { d.Fall = 2 },
		func(d *Definition) { d.Retry = 1 },
		func(d *Definition) { d.RetryDelay = time.Minute },
		func(d *Definition) { d.Warmup = time.Second },
		func(d *Definition) { d.HTTP.Path = "/x" },
		func(d *Definition) { d.HTTP.Host = "a" },
		func(d *Definition) { d.HTTP.Status = nil },
		func(d *Definition) { d.HTTP.Regex = "x" },
		func(d *Definition) { d.HTTP.Digest = "00" },
		func(d *Definition) { d.HTTP.MaxBody = 1 },
		func(d *Definition) { d.HTTP.TLS.SkipVerify = true },
	}
	seen := map[Key]int{base.Key(): -1}
	for i, f := range differ {
		d := base
		d.HTTP.Status = append([]StatusRange(nil), base.HTTP.Status...)
		f(&d)
		if j, ok := seen[d.Key()]; ok {
			t.Errorf("change %d gives the key of %d: %s", i, j, d.Key())
		}
		seen[d.Key()] = i
	}
	if k := string(base.Key()); !strings.HasPrefix(k, "http 192.0.2.1:8080 ") || len(k) != len("http 192.0.2.1:8080 ")+32 {
		t.Errorf("key %q does not read KIND TARGET HASH", k)
	}
	exec := Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"true"}}}
	if k := string(exec.Key()); !strings.HasPrefix(k, "exec ") || strings.Count(k, " ") != 1 {
		t.Errorf("exec key %q", k)
	}
}

func TestKeyDoesNotShareCallersSlices(t *testing.T) {
	d := Definition{Kind: KindUDP, Target: netip.MustParseAddrPort("192.0.2.1:53"), UDP: UDPCheck{Send: []byte("a")}}
	s, err := prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	d.UDP.Send[0] = 'b'
	if string(s.def.UDP.Send) != "a" {
		t.Error("a prepared check shares its payload with the caller")
	}
}

func TestDefinitionString(t *testing.T) {
	for _, tt := range []struct {
		def  Definition
		want string
	}{
		{Definition{Kind: KindTCP, Target: netip.MustParseAddrPort("192.0.2.1:22")}, "tcp 192.0.2.1:22"},
		{Definition{Kind: KindHTTPS, Target: netip.MustParseAddrPort("[2001:db8::1]:443")}, "https [2001:db8::1]:443 GET /"},
		{Definition{Kind: KindDNS, Target: netip.MustParseAddrPort("192.0.2.53:53"), DNS: DNSCheck{Name: "example.com", Type: "a"}}, "dns 192.0.2.53:53 A example.com."},
		{Definition{Kind: KindExec, Exec: ExecCheck{Command: []string{"/bin/check", "web1"}}}, "exec /bin/check web1"},
	} {
		if got := tt.def.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
