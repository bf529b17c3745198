package check

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

// A FieldError says which field of a Definition is wrong and why.
type FieldError struct {
	// Field is the field's path in lower case, as "timeout",
	// "http.status[1]" or "tls.ca_file".
	Field string
	// Value is the field's value as written.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "check: FIELD VALUE: REASON".
func (e *FieldError) Error() string {
	return fmt.Sprintf("check: %s %q: %s", e.Field, e.Value, e.Reason)
}

// fieldErr builds a *FieldError, the value formatted with %v.
func fieldErr(field string, value any, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Value: fmt.Sprint(value), Reason: fmt.Sprintf(format, args...)}
}

// Validate checks a definition as Scheduler.Set will, loading the files
// it names (certificates) and looking up its command, and returns a
// *FieldError naming the first wrong field, or nil.
func Validate(d Definition) error {
	_, err := prepare(d)
	return err
}

// validateCommon checks the fields every kind shares, on a normalized
// definition.
func validateCommon(d *Definition) error {
	switch d.Kind {
	case KindTCP, KindHTTP, KindHTTPS, KindUDP, KindDNS, KindExec:
	default:
		return fieldErr("kind", d.Kind, "not one of tcp, http, https, udp, dns, exec")
	}
	if d.Kind == KindExec {
		if d.Source.IsValid() {
			return fieldErr("source", d.Source, "an exec check sends nothing itself")
		}
		if d.Mark != 0 {
			return fieldErr("mark", d.Mark, "an exec check sends nothing itself")
		}
	} else {
		if !d.Target.IsValid() || d.Target.Addr().IsUnspecified() {
			return fieldErr("target", d.Target, "a %s check needs an address and a port", d.Kind)
		}
		if d.Target.Port() == 0 {
			return fieldErr("target", d.Target, "port 0")
		}
		if d.Target.Addr().Zone() != "" && d.Source.IsValid() {
			return fieldErr("source", d.Source, "a zoned target picks its interface itself")
		}
		if d.Source.IsValid() && d.Source.Is4() != d.Target.Addr().Is4() {
			return fieldErr("source", d.Source, "not of the target's family (%s)", d.Target.Addr())
		}
	}
	for _, t := range []struct {
		name string
		v    time.Duration
	}{{"interval", d.Interval}, {"timeout", d.Timeout}, {"retry_delay", d.RetryDelay}, {"warmup", d.Warmup}} {
		if t.v < 0 {
			return fieldErr(t.name, t.v, "negative")
		}
	}
	if d.Interval < time.Millisecond {
		return fieldErr("interval", d.Interval, "shorter than a millisecond")
	}
	if d.Timeout < time.Millisecond {
		return fieldErr("timeout", d.Timeout, "shorter than a millisecond")
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"rise", d.Rise}, {"fall", d.Fall}, {"retry", d.Retry}} {
		if c.v < 0 || c.v > 1000 {
			return fieldErr(c.name, c.v, "not between 0 and 1000")
		}
	}
	// The options of other kinds must be empty: a TLS file under a TCP
	// check is a mistake in the configuration, not something to ignore.
	for _, o := range []struct {
		name  string
		v     any
		kinds []Kind
	}{
		{"http", d.HTTP, []Kind{KindHTTP, KindHTTPS}},
		{"udp", d.UDP, []Kind{KindUDP}},
		{"dns", d.DNS, []Kind{KindDNS}},
		{"exec", d.Exec, []Kind{KindExec}},
	} {
		if !reflect.ValueOf(o.v).IsZero() && !hasKind(o.kinds, d.Kind) {
			return fieldErr(o.name, "…", "set, but the check's kind is %s", d.Kind)
		}
	}
	if d.Kind == KindHTTP && !reflect.ValueOf(d.HTTP.TLS).IsZero() {
		return fieldErr("http.tls", "…", "set, but the check's kind is http, not https")
	}
	return nil
}

// hasKind reports whether k is one of ks.
func hasKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// unmapPort returns ap with an IPv4-mapped IPv6 address made IPv4.
func unmapPort(ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// hasControl reports whether s holds a control character, a space or a
// byte that cannot stand in an HTTP request line or header unescaped.
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0
}
