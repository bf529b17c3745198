package ipvs

import (
	"strings"
	"time"
)

// checkName rejects a name the kernel would truncate or refuse: it must
// fit its buffer of max bytes with the terminating NUL, and hold no NUL.
func checkName(field, name string, max int) error {
	if len(name) > max-1 {
		return invalidf(field, "%q is %d bytes, longer than %d", name, len(name), max-1)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return invalidf(field, "%q holds a NUL byte", name)
	}
	return nil
}

// checkSeconds rejects a duration that is not a whole, non-negative
// number of seconds, or is longer than limit.
func checkSeconds(field string, d, limit time.Duration) error {
	switch {
	case d < 0:
		return invalidf(field, "%s is negative", d)
	case d%time.Second != 0:
		return invalidf(field, "%s is not a whole number of seconds", d)
	case d > limit:
		return invalidf(field, "%s (%d s) is more than %d s, the most every kernel keeps intact", d, d/time.Second, limit/time.Second)
	}
	return nil
}
