package keepalived

import (
	"strings"
	"testing"
)

// parse reads /k.conf of files.
func parse(t *testing.T, files map[string]string) (*Config, error) {
	t.Helper()
	return ParseFile("/k.conf", Options{FS: fsOf(files)})
}

// vsWith is a virtual server around body.
func vsWith(body string) string {
	return "virtual_server 10.0.0.1 80 {\n protocol TCP\n" + body + "\n}\n"
}

// TestDecodeErrors: a value keepalived would refuse is an error that
// names the file, the line and the keyword, and the import fails.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{vsWith(" lb_algo fastest"), `/k.conf:3: error: lb_algo: "fastest" is not a scheduler keepalived knows`},
		{vsWith(" delay_loop soon"), `/k.conf:3: error: delay_loop: "soon" is not a time in seconds`},
		{vsWith(" delay_loop 0"), `/k.conf:3: error: delay_loop: "0" is less than keepalived takes`},
		{vsWith(" delay_loop 1.1234567"), `/k.conf:3: error: delay_loop: "1.1234567" is not a time in seconds`},
		{vsWith(" quorum 0"), `/k.conf:3: error: quorum: "0" is outside 1 to 4294967295`},
		{vsWith(" lb_kind NAT type gue"), `/k.conf:3: error: lb_kind: NAT takes no tunnel options`},
		{vsWith(" lvs_method TUN type gue"), `/k.conf:3: error: lvs_method: a gue tunnel needs a port`},
		{vsWith(" protocol ICMP"), `/k.conf:3: error: protocol: "ICMP" is not TCP, UDP or SCTP`},
		{vsWith(" sorry_server_inhibit"), `/k.conf:3: error: sorry_server_inhibit: comes before any sorry_server`},
		{vsWith(" real_server 10.0.0.300 80"), `/k.conf:3: error: real_server: "10.0.0.300" is not an IP address`},
		{vsWith(" real_server 10.0.0.3 80 { weight -1 }"), `/k.conf:3: error: weight: "-1" is not a number`},
		{vsWith(" real_server 10.0.0.3 80 { inhibit_on_failure maybe }"), `/k.conf:3: error: inhibit_on_failure: "maybe" is not one of on, off`},
		{vsWith(" real_server 10.0.0.3 80 { HTTP_GET { url { digest 00 } } }"), `/k.conf:3: error: url: has no path`},
		{vsWith(" real_server 10.0.0.3 80 { HTTP_GET { url {\n path /\n status_code 200-99 } } }"), `/k.conf:5: error: status_code: "200-99" is not a status code`},
		{vsWith(" real_server 10.0.0.3 80 { MISC_CHECK { misc_timeout 3 } }"), `/k.conf:3: error: MISC_CHECK: has no misc_path`},
		{vsWith(" real_server 10.0.0.3 80 { UDP_CHECK { payload 0g } }"), `/k.conf:3: error: payload: "0g" is not bytes in hex`},
		{vsWith(" real_server 10.0.0.3 80 { DNS_CHECK { type ANY } }"), `/k.conf:3: error: type: "ANY" is not a type keepalived asks`},
		{vsWith(" real_server 10.0.0.3 80 { TCP_CHECK { frobnicate } }"), `/k.conf:3: error: frobnicate: is not a keyword of TCP_CHECK`},
		{vsWith(" weight { 2 }"), `/k.conf:3: error: weight: takes no block`},
		{"virtual_server 10.0.0.1 80\n", `/k.conf:1: error: virtual_server: has no block`},
		{vsWith(" real_server 10.0.0.3 80"), `/k.conf:3: error: real_server: has no block: a "{" must follow it (even an empty one, {}), or keepalived reads the lines after it as its block`},
		{vsWith(" real_server 10.0.0.3 80 {\n  TCP_CHECK\n }"), `/k.conf:4: error: TCP_CHECK: has no block`},
		{"virtual_server 10.0.0.1 80 {\n", `/k.conf:1: error: virtual_server: the block opened here is not closed`},
		{"}\n", `/k.conf:1: error: a "}" that closes no block`},
		{"virtual_server_group G {\n 10.0.0.1-0 80\n}\n", `/k.conf:2: error: 10.0.0.1-0: "10.0.0.1-0" ends before it starts`},
		{"virtual_server_group G {\n 10.0.0.0/8 80\n}\n", `/k.conf:2: error: 10.0.0.0/8: the group holds more than 65536 addresses`},
		{"virtual_server_group G {\n 10.0.0.1/24\n}\n", `/k.conf:2: error: 10.0.0.1/24: "10.0.0.1/24" has bits set past its prefix length`},
	} {
		_, err := parse(t, map[string]string{"/k.conf": tc.conf})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.conf, err, tc.want)
		}
	}
}

// TestGroupRanges: a group's ranges expand as keepalived's do.
func TestGroupRanges(t *testing.T) {
	for _, tc := range []struct {
		in          string
		first, last string
	}{
		{"192.0.2.1-3", "192.0.2.1", "192.0.2.3"},
		{"192.0.2.250-192.0.3.1", "192.0.2.250", "192.0.3.1"},
		{"192.0.2.8/30", "192.0.2.8", "192.0.2.11"},
		{"2001:db8::1-ff", "2001:db8::1", "2001:db8::ff"},
		{"2001:db8::/126", "2001:db8::", "2001:db8::3"},
	} {
		f, l, err := parseRange(tc.in)
		if err != nil || f.String() != tc.first || l.String() != tc.last {
			t.Errorf("parseRange(%q) = %v %v %v, want %s %s", tc.in, f, l, err, tc.first, tc.last)
		}
	}
	if _, _, err := parseRange("192.0.2.1-2001:db8::1"); err == nil {
		t.Error("a range across families was taken")
	}
}

// TestUnknownTopLevel: a keyword the import does not know at the top is
// a warning with its line, and VRRP blocks make one note whatever their
// number.
func TestUnknownTopLevel(t *testing.T) {
	c, err := parse(t, map[string]string{"/k.conf": "vrrp_instance A {\n}\nvrrp_instance B {\n}\nnet_namespace blue\nvrrp_script s {\n}\n"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Diagnostics.String()
	want := "/k.conf:1: note: vrrp_instance: 3 blocks of keepalived's VRRP and BFD half (vrrp_instance, vrrp_script) are skipped: " +
		"ipvsd does not move addresses; keep keepalived for them, as keepalived -P\n" +
		"/k.conf:5: warning: net_namespace: not carried over: ipvsd has no such setting\n"
	if got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
}

// TestExtraWords: words keepalived ignores after a keyword's value are
// a warning, not dropped in silence.
func TestExtraWords(t *testing.T) {
	c, err := parse(t, map[string]string{"/k.conf": vsWith(" real_server 10.0.0.3 80 { HTTP_GET { url { path / status_code 200 } } }")})
	if err != nil {
		t.Fatal(err)
	}
	want := `/k.conf:3: warning: path: takes one value: keepalived ignores "status_code 200" after it, and so does the import`
	if got := c.Diagnostics.String(); !strings.Contains(got, want) {
		t.Errorf("diagnostics:\n%s\nwant %s", got, want)
	}
}
