package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// maxHeader bounds the bytes of a response's status line and headers.
const maxHeader = 64 << 10

// readers holds bufio.Readers for responses, reused across probes.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// probeHTTP sends the GET on a new connection and judges the response.
// Keep-alive is off on purpose: each probe meets the backend as a new
// client does, so a listener that stopped accepting fails the check even
// while an old connection would still answer, and neither side holds an
// idle socket per check. HTTPS resumes its TLS session instead.
func (s *spec) probeHTTP(ctx context.Context) Outcome {
	c, release, err := s.connect(ctx, "tcp")
	if err != nil {
		return Outcome{Err: err}
	}
	defer release()
	var conn net.Conn = c
	if s.tls != nil {
		tc := tls.Client(c, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return Outcome{Err: probeErr(ctx, "tls handshake", err)}
		}
		conn = tc
	}
	if _, err := conn.Write(s.request); err != nil {
		return Outcome{Err: probeErr(ctx, "send request", err)}
	}
	limit := int64(maxHeader)
	if s.needBody() {
		limit += s.def.HTTP.MaxBody + 1
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(conn, limit))
	defer func() { br.Reset(nil); readers.Put(br) }()
	return Outcome{Err: s.judgeHTTP(ctx, br)}
}

// needBody reports whether the check reads the body.
func (s *spec) needBody() bool { return s.regex != nil || s.digest != nil }

// judgeHTTP reads a response from r and judges its status and body.
func (s *spec) judgeHTTP(ctx context.Context, r *bufio.Reader) error {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return readErr(ctx, "read response", err)
	}
	defer resp.Body.Close()
	if !s.statusPasses(resp.StatusCode) {
		return mismatch("status", strconv.Itoa(resp.StatusCode)+" not in "+s.statusText())
	}
	if !s.needBody() {
		return nil
	}
	body, err := readBody(resp.Body, s.def.HTTP.MaxBody)
	if err != nil {
		return readErr(ctx, "read body", err)
	}
	return s.judgeBody(body)
}

// judgeBody judges a body against the regex and the digest. A body of
// more than MaxBody bytes (readBody keeps one byte more to tell) fails a
// digest, and the regex sees its first MaxBody bytes.
func (s *spec) judgeBody(body []byte) error {
	tooLong := int64(len(body)) > s.def.HTTP.MaxBody
	if tooLong {
		body = body[:s.def.HTTP.MaxBody]
	}
	if s.regex != nil && s.regex.Match(body) == s.def.HTTP.RegexNoMatch {
		if s.def.HTTP.RegexNoMatch {
			return mismatch("body", "matches "+strconv.Quote(s.def.HTTP.Regex))
		}
		return mismatch("body", "does not match "+strconv.Quote(s.def.HTTP.Regex))
	}
	if s.digest != nil {
		if tooLong {
			return mismatch("body", "longer than max_body ("+strconv.FormatInt(s.def.HTTP.MaxBody, 10)+" bytes) for a digest")
		}
		h := s.newHash()
		h.Write(body)
		if sum := h.Sum(nil); !bytes.Equal(sum, s.digest) {
			return mismatch("body", "digest "+hex.EncodeToString(sum)+", want "+s.def.HTTP.Digest)
		}
	}
	return nil
}

// readBody reads up to max+1 bytes of r.
func readBody(r io.Reader, max int64) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(r, max+1))
	return b.Bytes(), err
}

// statusPasses reports whether code is in one of the check's ranges.
func (s *spec) statusPasses(code int) bool {
	for _, r := range s.def.HTTP.Status {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

// statusText writes the check's ranges as "200-299,301".
func (s *spec) statusText() string {
	var b []byte
	for i, r := range s.def.HTTP.Status {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, rangeText(r)...)
	}
	return string(b)
}
