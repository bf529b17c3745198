package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a length of time, written as Go writes durations ("1.5s",
// "500ms", "2m") or as a number of seconds, as keepalived writes its
// timers ("3", "0.5").
type Duration time.Duration

// UnmarshalText reads a Duration; it must not be negative.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	v, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f || f > float64(1<<62)/1e9 {
			return fmt.Errorf("%q is not a duration: want such as 1.5s, 500ms, 2m, or a number of seconds", s)
		}
		v = time.Duration(f * float64(time.Second))
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the Duration as Go does, such as "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String returns the Duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// Command is a program to run, for a check or a hook: a string is run by
// /bin/sh -c, a list is the program and its arguments, run directly.
type Command struct {
	// Shell is the command line given as a string.
	Shell string
	// Args are the program and its arguments given as a list.
	Args []string
}

// IsZero reports whether no command is given.
func (c Command) IsZero() bool { return c.Shell == "" && len(c.Args) == 0 }

// Argv returns what to execute: Args, or /bin/sh -c Shell.
func (c Command) Argv() []string {
	if len(c.Args) > 0 {
		return c.Args
	}
	if c.Shell == "" {
		return nil
	}
	return []string{"/bin/sh", "-c", c.Shell}
}

// String returns the command as given: the string, or the arguments
// joined with spaces, each quoted if it needs to be.
func (c Command) String() string {
	if len(c.Args) == 0 {
		return c.Shell
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

func (c *Command) decodeNode(r *report, path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			r.addf(path, "is empty")
			return
		}
		*c = Command{Shell: n.Value}
	case yaml.SequenceNode:
		var args []string
		for i, item := range n.Content {
			s, ok := r.scalar(item, fmt.Sprintf("%s[%d]", path, i))
			if !ok {
				return
			}
			args = append(args, s)
		}
		if len(args) == 0 || args[0] == "" {
			r.addf(path, "names no program")
			return
		}
		*c = Command{Args: args}
	default:
		r.addf(path, "want a command line or a list of arguments, not %s", describe(n))
	}
}

// MarshalYAML writes the Command as it was given.
func (c Command) MarshalYAML() (any, error) {
	if len(c.Args) > 0 {
		return c.Args, nil
	}
	return c.Shell, nil
}
