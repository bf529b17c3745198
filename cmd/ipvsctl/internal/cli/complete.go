package cli

import (
	"slices"
	"strings"
)

// Schedulers are the kernel's schedulers, as ipvsadm's manual lists them.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// fixedValues are the values an option takes from a fixed set, by its
// long name.
var fixedValues = map[string][]string{
	"scheduler":    Schedulers,
	"pe":           {"sip"},
	"start-daemon": {"master", "backup"},
	"stop-daemon":  {"master", "backup"},
	"tun-type":     {"ipip", "gue", "gre"},
	"output":       {"json", "yaml", "text"},
	"sched-flags":  {"flag-1", "flag-2", "flag-3", "sh-fallback", "sh-port", "mh-fallback", "mh-port"},
	"own":          {"all", "listed"},
	"drain":        {"protocol", "drain", "remove"},
}

// Lister answers what completion cannot know by itself: the names of
// network namespaces, the machine's interfaces, and the services of the
// table (as -t, -u, --sctp-service or -f name them: "tcp", "udp",
// "sctp" or "fwmark"). Each may return nothing.
type Lister interface {
	NetNS() []string
	Interfaces() []string
	Services(kind string) []string
}

// Completion is what a shell offers for the word being typed.
type Completion struct {
	// Files: offer file names.
	Files bool
	// Words are the candidates that begin with the word typed.
	Words []string
}

// Complete completes the last of args, the words after the program's
// name up to the one being typed (maybe empty), from the option tables.
func Complete(args []string, l Lister) Completion {
	if len(args) == 0 {
		return Completion{}
	}
	cur := args[len(args)-1]
	table, done := optionIndex, args[:len(args)-1]
	switch {
	case len(done) > 0 && done[0] == "apply":
		table, done = applyOptionIndex, done[1:]
	case len(done) == 1 && done[0] == "completion":
		return Completion{Words: matching([]string{"bash", "zsh"}, cur)}
	case len(done) > 0 && done[0] == "completion":
		return Completion{}
	}
	// An option written --name=value: complete the value, prefixed.
	if name, val, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "--") {
		if sp := table.long[name[2:]]; sp != nil && sp.arg != argNone {
			c := values(table, sp, l)
			for i, w := range c.Words {
				c.Words[i] = name + "=" + w
			}
			c.Words = matching(c.Words, name+"="+val)
			return c
		}
		return Completion{}
	}
	if len(done) > 0 {
		if sp := lastOption(table, done[len(done)-1]); sp != nil && sp.arg == argRequired {
			c := values(table, sp, l)
			c.Words = matching(c.Words, cur)
			return c
		}
	}
	var words []string
	if len(args) == 1 && !strings.HasPrefix(cur, "-") {
		words = append(words, "apply", "completion")
	}
	// After a command, only options: popt would refuse a second one.
	hasCommand := false
	for _, w := range done {
		hasCommand = hasCommand || isCommand(table, w)
	}
	seen := map[string]bool{}
	for _, sp := range table.specs {
		if hasCommand && sp.tag == tagCommand {
			continue
		}
		if !strings.HasPrefix(cur, "--") && sp.short != 0 {
			words = append(words, "-"+string(sp.short))
		}
		if !seen[sp.long] {
			seen[sp.long] = true
			words = append(words, "--"+sp.long)
		}
	}
	return Completion{Words: matching(words, cur)}
}

// lastOption is the option that word ends with: a long option, or the
// last of a bundle of short ones, which takes the next word as its
// argument.
func lastOption(table *optionTable, word string) *spec {
	switch {
	case strings.HasPrefix(word, "--") && !strings.Contains(word, "="):
		return table.long[word[2:]]
	case len(word) > 1 && word[0] == '-' && word[1] != '-':
		for i := 1; i < len(word); i++ {
			sp := table.short[word[i]]
			if sp == nil {
				return nil
			}
			if sp.arg != argNone {
				if i == len(word)-1 {
					return sp
				}
				return nil // its argument is glued to it
			}
		}
	}
	return nil
}

// isCommand reports whether word is or holds a command option.
func isCommand(table *optionTable, word string) bool {
	switch {
	case strings.HasPrefix(word, "--"):
		name, _, _ := strings.Cut(word[2:], "=")
		sp := table.long[name]
		return sp != nil && sp.tag == tagCommand
	case len(word) > 1 && word[0] == '-':
		for i := 1; i < len(word); i++ {
			sp := table.short[word[i]]
			if sp == nil || sp.arg != argNone {
				return sp != nil && sp.tag == tagCommand
			}
			if sp.tag == tagCommand {
				return true
			}
		}
	}
	return false
}

// values completes the argument of option sp.
func values(table *optionTable, sp *spec, l Lister) Completion {
	if vs, ok := fixedValues[sp.long]; ok {
		return Completion{Words: slices.Clone(vs)}
	}
	switch {
	case table == applyOptionIndex && sp.tag == tagFile:
		return Completion{Files: true}
	case sp.tag == tagNetNS:
		return Completion{Words: l.NetNS()}
	case sp.tag == optMcast:
		return Completion{Words: l.Interfaces()}
	case sp.tag == tagTCP:
		return Completion{Words: l.Services("tcp")}
	case sp.tag == tagUDP:
		return Completion{Words: l.Services("udp")}
	case sp.tag == tagSCTP:
		return Completion{Words: l.Services("sctp")}
	case sp.tag == tagFWMark:
		return Completion{Words: l.Services("fwmark")}
	}
	return Completion{}
}

func matching(words []string, prefix string) []string {
	out := words[:0]
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
