package procfs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SysctlDir holds the IPVS sysctls of the namespace of the thread that
// opens it.
const SysctlDir = "/proc/sys/net/ipv4/vs"

// ReadSysctls returns the entries of dir by name, each as its text
// without the final newline.
func ReadSysctls(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = strings.TrimSuffix(string(b), "\n")
	}
	return out, nil
}

// WriteSysctl writes text to the entry name of dir in one write, as the
// kernel wants. An entry the kernel lacks is an error that says so and
// matches os.ErrNotExist; a value the kernel refuses, its errno alone.
func WriteSysctl(dir, name, text string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return NoEntry(err)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(text + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}

// NoEntry is the error of a write to a sysctl the kernel lacks, whose
// cause is err.
func NoEntry(err error) error { return fmt.Errorf("this kernel has no such entry: %w", err) }

// SysctlTable encodes and decodes the sysctls as the fields of S, a
// struct whose fields tagged `sysctl:"name[,min[,max]]"` are entries, and
// C, a struct with a pointer field of the same name and type for each,
// for a partial write. Integers are bounded by min and max, or else by
// the kernel's int. A field's type says how its entry reads: a bool is
// any nonzero number, a time.Duration whole seconds, a uint64 a number
// that may exceed an int64, a struct of two ints the two numbers of
// sync_threshold, a string a CPU list such as "0-3,8".
type SysctlTable[S, C any] struct {
	entries []sysctlEntry
	changes string // C's name, for errors
}

// sysctlEntry is a field of S and its entry.
type sysctlEntry struct {
	name     string
	kind     sysctlKind
	field    int // index in S
	change   int // index in C
	min, max int64
}

type sysctlKind uint8

const (
	kindBool sysctlKind = iota
	kindInt
	kindUint
	kindSeconds
	kindThreshold
	kindCPUList
)

// NewSysctlTable reads the entries off S's tags. It panics if C does not
// mirror S or a field has a type no entry has: both are mistakes of the
// program, found by its first test.
func NewSysctlTable[S, C any]() *SysctlTable[S, C] {
	st, ct := reflect.TypeFor[S](), reflect.TypeFor[C]()
	t := &SysctlTable[S, C]{changes: ct.Name()}
	for i := range st.NumField() {
		f := st.Field(i)
		tag, ok := f.Tag.Lookup("sysctl")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		e := sysctlEntry{name: parts[0], kind: kindOf(f.Type), field: i, min: math.MinInt32, max: math.MaxInt32}
		if len(parts) > 1 {
			e.min, _ = strconv.ParseInt(parts[1], 10, 32)
		}
		if len(parts) > 2 {
			e.max, _ = strconv.ParseInt(parts[2], 10, 32)
		}
		cf, ok := ct.FieldByName(f.Name)
		if !ok || cf.Type != reflect.PointerTo(f.Type) {
			panic("procfs: " + ct.Name() + "." + f.Name + " is not a *" + f.Type.String())
		}
		e.change = cf.Index[0]
		t.entries = append(t.entries, e)
	}
	return t
}

func kindOf(t reflect.Type) sysctlKind {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return kindSeconds
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Int:
		return kindInt
	case t.Kind() == reflect.Uint64:
		return kindUint
	case t.Kind() == reflect.String:
		return kindCPUList
	case t.Kind() == reflect.Struct && t.NumField() == 2 &&
		t.Field(0).Type.Kind() == reflect.Int && t.Field(1).Type.Kind() == reflect.Int:
		return kindThreshold
	}
	panic("procfs: no sysctl reads as a " + t.String())
}

// Names returns the entries' names in the order of S's fields.
func (t *SysctlTable[S, C]) Names() []string {
	names := make([]string, len(t.entries))
	for i, e := range t.entries {
		names[i] = e.name
	}
	return names
}

// Decode parses texts, entries by name as ReadSysctls returns them, into
// S. Absent names the entries of S that texts lacks, in the order of the
// fields; other holds the entries S does not know. Both are nil when
// empty. texts is not changed.
func (t *SysctlTable[S, C]) Decode(texts map[string]string) (s S, absent []string, other map[string]string, err error) {
	v := reflect.ValueOf(&s).Elem()
	known := 0
	for _, e := range t.entries {
		text, ok := texts[e.name]
		if !ok {
			absent = append(absent, e.name)
			continue
		}
		known++
		if err := e.decode(v.Field(e.field), text); err != nil {
			var zero S
			return zero, nil, nil, err
		}
	}
	if len(texts) > known {
		other = make(map[string]string, len(texts)-known)
		for name, text := range texts {
			if !slices.ContainsFunc(t.entries, func(e sysctlEntry) bool { return e.name == name }) {
				other[name] = text
			}
		}
	}
	return s, absent, other, nil
}

// decode parses the entry's text (without its newline) into v.
func (e *sysctlEntry) decode(v reflect.Value, text string) error {
	switch e.kind {
	case kindCPUList:
		v.SetString(text)
		return nil
	case kindThreshold:
		f := strings.Fields(text)
		if len(f) == 2 {
			a, err1 := strconv.Atoi(f[0])
			b, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				v.Field(0).SetInt(int64(a))
				v.Field(1).SetInt(int64(b))
				return nil
			}
		}
	case kindUint:
		n, err := strconv.ParseUint(text, 10, 64)
		if err == nil {
			v.SetUint(n)
			return nil
		}
	default:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			break
		}
		switch e.kind {
		case kindBool:
			v.SetBool(n != 0)
		case kindSeconds:
			v.SetInt(int64(time.Duration(n) * time.Second))
		default:
			v.SetInt(int64(int(n)))
		}
		return nil
	}
	return fmt.Errorf("sysctl %s: unexpected value %q", e.name, text)
}

// SysctlWrite is one entry to write, and its text.
type SysctlWrite struct{ Name, Text string }

// Writes validates the non-nil fields of ch and the entries of other,
// which S does not know, and returns the texts to write: ch's in the
// order of the fields, then other's in the order of their names. A value
// that cannot be written is a *SysctlError, before any text is returned.
func (t *SysctlTable[S, C]) Writes(ch *C, other map[string]string) ([]SysctlWrite, error) {
	var out []SysctlWrite
	v := reflect.ValueOf(ch).Elem()
	for _, e := range t.entries {
		p := v.Field(e.change)
		if p.IsNil() {
			continue
		}
		text, err := e.encode(p.Elem())
		if err != nil {
			return nil, err
		}
		out = append(out, SysctlWrite{e.name, text})
	}
	names := make([]string, 0, len(other))
	for name := range other {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		text := other[name]
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return nil, invalidSysctl("sysctl name", "%q is not an entry's name", name)
		}
		if strings.ContainsAny(text, "\n\x00") {
			return nil, invalidSysctl("sysctl "+name, "%q has a newline or NUL", text)
		}
		if slices.ContainsFunc(t.entries, func(e sysctlEntry) bool { return e.name == name }) {
			return nil, invalidSysctl("sysctl "+name, "is a field of %s: set it there", t.changes)
		}
		out = append(out, SysctlWrite{name, text})
	}
	return out, nil
}

// encode validates v, a value of the entry's field, and returns the text
// to write.
func (e *sysctlEntry) encode(v reflect.Value) (string, error) {
	field := "sysctl " + e.name
	switch e.kind {
	case kindBool:
		if v.Bool() {
			return "1", nil
		}
		return "0", nil
	case kindInt:
		n := v.Int()
		if n < e.min || n > e.max {
			return "", invalidSysctl(field, "%d is not between %d and %d", n, e.min, e.max)
		}
		if e.name == "sync_ports" && n&(n-1) != 0 {
			return "", invalidSysctl(field, "%d is not a power of 2", n)
		}
		return strconv.FormatInt(n, 10), nil
	case kindUint:
		return strconv.FormatUint(v.Uint(), 10), nil
	case kindSeconds:
		d := time.Duration(v.Int())
		if d < 0 || d%time.Second != 0 || d/time.Second > math.MaxInt32 {
			return "", invalidSysctl(field, "%v is not a whole number of seconds from 0 to %d", d, math.MaxInt32)
		}
		return strconv.FormatInt(int64(d/time.Second), 10), nil
	case kindThreshold:
		threshold, period := v.Field(0).Int(), v.Field(1).Int()
		if threshold < 0 || period < 0 || threshold > math.MaxInt32 || period > math.MaxInt32 ||
			period != 0 && threshold >= period {
			return "", invalidSysctl(field, "%d %d: want 0 <= threshold < period, or period 0", threshold, period)
		}
		return fmt.Sprintf("%d %d", threshold, period), nil
	default: // kindCPUList
		s := v.String()
		if strings.Trim(s, "0123456789,-:/") != "" {
			return "", invalidSysctl(field, "%q is not a CPU list such as 0-3,8", s)
		}
		return s, nil
	}
}

// SysctlError is a value that cannot be written to a sysctl. It matches
// os.ErrInvalid.
type SysctlError struct {
	// Field names the entry, such as "sysctl drop_entry", or "sysctl
	// name" for a name that is none.
	Field string
	// Reason says what is wrong with the value, quoting it.
	Reason string
}

func invalidSysctl(field, format string, args ...any) error {
	return &SysctlError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Error returns "invalid FIELD: REASON".
func (e *SysctlError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Is reports whether target is os.ErrInvalid.
func (e *SysctlError) Is(target error) bool { return target == os.ErrInvalid }
