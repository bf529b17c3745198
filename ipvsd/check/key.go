package check

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

// Key identifies a check: two definitions with the same Key are the same
// check, probed once. It reads "KIND TARGET HASH" (the target left out
// when it is zero), where HASH covers every field of the definition once
// defaults are applied, so a zero field and its default give one Key.
// Keys are stable across restarts of the same version of this package.
type Key string

// Key returns the definition's Key.
func (d Definition) Key() Key {
	n := d.normalized()
	// Marshal cannot fail: a Definition holds only strings, numbers,
	// byte slices and netip values.
	b, _ := json.Marshal(n)
	sum := sha256.Sum256(b)
	var k strings.Builder
	k.WriteString(string(n.Kind))
	if n.Target.IsValid() {
		k.WriteByte(' ')
		k.WriteString(n.Target.String())
	}
	k.WriteByte(' ')
	k.WriteString(hex.EncodeToString(sum[:16]))
	return Key(k.String())
}

// normalized returns a copy of d with its defaults applied and its
// options in one canonical form, sharing nothing d's caller may change.
func (d Definition) normalized() Definition {
	if d.Interval == 0 {
		d.Interval = DefaultInterval
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Rise == 0 {
		d.Rise = 1
	}
	if d.Fall == 0 {
		d.Fall = 1
	}
	if d.RetryDelay == 0 {
		d.RetryDelay = DefaultRetryDelay
	}
	d.Target = unmapPort(d.Target)
	d.Source = d.Source.Unmap()
	switch d.Kind {
	case KindHTTP, KindHTTPS:
		h := &d.HTTP
		if h.Path == "" {
			h.Path = "/"
		}
		if len(h.Status) == 0 {
			h.Status = []StatusRange{{200, 299}}
		} else {
			h.Status = slices.Clone(h.Status)
			slices.SortFunc(h.Status, func(a, b StatusRange) int {
				if a.Min != b.Min {
					return a.Min - b.Min
				}
				return a.Max - b.Max
			})
			h.Status = slices.Compact(h.Status)
		}
		h.Digest = strings.ToLower(h.Digest)
		if h.MaxBody == 0 {
			h.MaxBody = DefaultMaxBody
		}
	case KindUDP:
		u := &d.UDP
		u.Send = slices.Clone(u.Send)
		u.Expect = slices.Clone(u.Expect)
		u.ExpectMask = slices.Clone(u.ExpectMask)
	case KindDNS:
		q := &d.DNS
		if q.Name == "" {
			q.Name = "."
		}
		if !strings.HasSuffix(q.Name, ".") {
			q.Name += "."
		}
		q.Name = strings.ToLower(q.Name)
		if q.Type == "" {
			q.Type = "SOA"
		}
		q.Type = strings.ToUpper(q.Type)
		if q.RCode == "" {
			q.RCode = "NOERROR"
		}
		q.RCode = strings.ToUpper(q.RCode)
	case KindExec:
		e := &d.Exec
		e.Command = slices.Clone(e.Command)
		if e.MaxOutput == 0 {
			e.MaxOutput = DefaultMaxOutput
		}
	}
	return d
}

// String describes the check in a few words for logs and messages:
// "http 10.0.0.1:8080 GET /healthz", "dns 10.0.0.53:53 A example.com.",
// "exec /usr/local/bin/probe web1". Unlike Key it leaves out the timing
// and most options, so two checks may share it.
func (d Definition) String() string {
	n := d.normalized()
	var b strings.Builder
	b.WriteString(string(n.Kind))
	if n.Target.IsValid() {
		b.WriteByte(' ')
		b.WriteString(n.Target.String())
	}
	switch n.Kind {
	case KindHTTP, KindHTTPS:
		b.WriteString(" GET ")
		b.WriteString(n.HTTP.Path)
	case KindDNS:
		b.WriteString(" " + n.DNS.Type + " " + n.DNS.Name)
	case KindExec:
		for _, a := range n.Exec.Command {
			b.WriteByte(' ')
			b.WriteString(a)
		}
	}
	return b.String()
}

// Equal reports whether d and o are equal as written, field by field:
// definitions with one Key may still differ (a zero field and its
// default), and comparing is cheaper than keying, which encodes and
// hashes. reflect.DeepEqual would move every definition compared to the
// heap.
func (d *Definition) Equal(o *Definition) bool {
	dh, oh, du, ou, de, oe := &d.HTTP, &o.HTTP, &d.UDP, &o.UDP, &d.Exec, &o.Exec
	return d.Kind == o.Kind && d.Target == o.Target && d.Source == o.Source && d.Mark == o.Mark &&
		d.Interval == o.Interval && d.Timeout == o.Timeout && d.Rise == o.Rise && d.Fall == o.Fall &&
		d.Retry == o.Retry && d.RetryDelay == o.RetryDelay && d.Warmup == o.Warmup &&
		dh.Path == oh.Path && dh.Host == oh.Host && slices.Equal(dh.Status, oh.Status) && dh.Regex == oh.Regex &&
		dh.RegexNoMatch == oh.RegexNoMatch && dh.Digest == oh.Digest && dh.MaxBody == oh.MaxBody && dh.TLS == oh.TLS &&
		bytes.Equal(du.Send, ou.Send) && du.RequireReply == ou.RequireReply && bytes.Equal(du.Expect, ou.Expect) &&
		bytes.Equal(du.ExpectMask, ou.ExpectMask) && du.MinReply == ou.MinReply && du.MaxReply == ou.MaxReply &&
		d.DNS == o.DNS &&
		slices.Equal(de.Command, oe.Command) && de.Dynamic == oe.Dynamic && de.MaxOutput == oe.MaxOutput &&
		de.User == oe.User && de.Group == oe.Group
}
