package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxTimer is keepalived's largest timer, in seconds (TIMER_MAXIMUM).
const maxTimer = math.MaxInt32

// parseTimer reads a keepalived <TIMER>: seconds, with up to six
// decimal places (keepalived's resolution is a microsecond).
func parseTimer(s string, min time.Duration) (time.Duration, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) || len(frac) > 6 {
		return 0, fmt.Errorf("%q is not a time in seconds, such as 3 or 0.5", s)
	}
	w, err := strconv.ParseUint(cmpDefault(whole, "0"), 10, 64)
	if err != nil || w > maxTimer {
		return 0, fmt.Errorf("%q is more seconds than keepalived takes (%d)", s, maxTimer)
	}
	f, _ := strconv.ParseUint((frac + "000000")[:6], 10, 64)
	d := time.Duration(w)*time.Second + time.Duration(f)*time.Microsecond
	if d < min {
		return 0, fmt.Errorf("%q is less than keepalived takes (%s)", s, min)
	}
	return d, nil
}

func cmpDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// digits reports whether s is decimal digits only (or empty).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseUint reads a decimal number in [min, max].
func parseUint(s string, min, max uint64) (uint64, error) {
	if s == "" || !digits(s) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < min || v > max {
		return 0, fmt.Errorf("%q is outside %d to %d", s, min, max)
	}
	return v, nil
}

// parseBool reads keepalived's <BOOL>.
func parseBool(s string) (bool, error) {
	switch s {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not one of on, off, true, false, yes, no", s)
}

// parseAddr reads an IPv4 or IPv6 address, with or without brackets.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	return a.Unmap(), nil
}

// parsePort reads a port; keepalived takes a port of 0 (or 00) as none.
func parsePort(s string) (uint16, error) {
	v, err := parseUint(s, 0, math.MaxUint16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port", s)
	}
	return uint16(v), nil
}

// parseStatusCodes reads status_code's values: codes and ranges of codes
// from 100 to 599.
func parseStatusCodes(args []string) ([]StatusRange, error) {
	var out []StatusRange
	for _, a := range args {
		lo, hi, isRange := strings.Cut(a, "-")
		l, err := parseUint(lo, 100, 599)
		h := l
		if err == nil && isRange {
			h, err = parseUint(hi, 100, 599)
		}
		if err != nil || l > h {
			return nil, fmt.Errorf("%q is not a status code or range of them within 100-599", a)
		}
		out = append(out, StatusRange{Low: int(l), High: int(h)})
	}
	return out, nil
}

// parseHexString checks a UDP_CHECK payload or reply: hex digits, blanks
// between them ignored; with wild, x stands for any digit.
func parseHexString(s string, wild bool) error {
	for _, c := range strings.Join(strings.Fields(s), "") {
		if !isHex(byte(c)) && !(wild && (c == 'x' || c == 'X')) {
			return fmt.Errorf("%q is not bytes in hex", s)
		}
	}
	return nil
}
