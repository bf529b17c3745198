package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// StatusRange is a range of HTTP statuses, both ends included.
type StatusRange struct{ Low, High int }

// StatusCodes are the HTTP statuses an http check accepts, written as
// keepalived writes them ("200-299 404") or as a list of codes and
// ranges ([200, "300-399"]).
type StatusCodes []StatusRange

// Contains reports whether code is one of the statuses.
func (s StatusCodes) Contains(code int) bool {
	for _, r := range s {
		if code >= r.Low && code <= r.High {
			return true
		}
	}
	return false
}

// String returns the statuses as keepalived writes them, "200-299 404".
func (s StatusCodes) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = strconv.Itoa(r.Low)
		if r.High != r.Low {
			parts[i] += "-" + strconv.Itoa(r.High)
		}
	}
	return strings.Join(parts, " ")
}

// MarshalYAML writes the statuses as one string.
func (s StatusCodes) MarshalYAML() (any, error) { return s.String(), nil }

func (s *StatusCodes) decodeNode(r *report, path string, n *yaml.Node) {
	var words []string
	switch n.Kind {
	case yaml.ScalarNode:
		words = strings.Fields(n.Value)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			v, ok := r.scalar(item, fmt.Sprintf("%s[%d]", path, i))
			if !ok {
				return
			}
			words = append(words, strings.Fields(v)...)
		}
	default:
		r.addf(path, "want statuses such as \"200-299 404\", not %s", describe(n))
		return
	}
	if len(words) == 0 {
		r.addf(path, "names no status")
		return
	}
	out := make(StatusCodes, 0, len(words))
	for _, w := range words {
		lo, hi, isRange := strings.Cut(w, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := l, error(nil)
		if isRange {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			r.addf(path, "%q is not a status or a range of statuses within 100-599", w)
			return
		}
		out = append(out, StatusRange{l, h})
	}
	*s = out
}
