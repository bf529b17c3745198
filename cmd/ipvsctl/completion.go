package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// bashCompletion is the script "ipvsctl completion bash" prints. The
// shell only asks the program ("ipvsctl __complete WORDS...", the words
// up to the one being typed) and shows what it answers, so that the
// candidates come from the same option tables as the parser. Words are
// split from the line itself, since bash would split "10.0.0.1:80" at
// its colon.
const bashCompletion = `# bash completion for PROG; load with: source <(PROG completion bash)
_PROG() {
	local line=${COMP_LINE:0:COMP_POINT} out kind cur
	local -a words
	read -ra words <<<"$line"
	[[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=("")
	cur=${words[${#words[@]}-1]}
	out=$("${words[0]}" __complete "${words[@]:1}" 2>/dev/null) || return 0
	kind=${out%%$'\n'*}
	COMPREPLY=()
	case $kind in
	files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "${cur#--*=}") ;;
	words) [[ $out == *$'\n'* ]] && mapfile -t COMPREPLY <<<"${out#*$'\n'}" ;;
	esac
	# bash replaces only what follows the last ':' or '=' of the word.
	if [[ $cur == *[:=]* ]]; then
		local pre=${cur%"${cur##*[:=]}"} i
		for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$pre"}; done
	fi
}
complete -F _PROG PROG
`

// zshCompletion is the script "ipvsctl completion zsh" prints, over the
// same "__complete" as bash's.
const zshCompletion = `#compdef PROG
# zsh completion for PROG; load with: source <(PROG completion zsh)
# after compinit, or save as _PROG in a directory of $fpath.
_PROG() {
	local -a out
	out=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	case ${out[1]} in
	files) _files ;;
	words) (( ${#out} > 1 )) && compadd -Q -- "${(@)out[2,-1]}" ;;
	esac
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
	_PROG "$@"
else
	compdef _PROG PROG
fi
`

// completion runs "ipvsctl completion bash|zsh": the script, for the
// program's name.
func (e *env) completion(args []string) int {
	scripts := map[string]string{"bash": bashCompletion, "zsh": zshCompletion}
	s, ok := scripts[strings.Join(args, " ")]
	if !ok {
		fmt.Fprintf(e.errw, "%s completion: name a shell: bash or zsh\n", filepath.Base(e.program))
		return 2
	}
	name := filepath.Base(e.program)
	e.out.WriteString(strings.ReplaceAll(s, "PROG", name))
	return 0
}

// complete answers a completion script: "files", or "words" and the
// candidates, one a line.
func (e *env) complete(args []string) int {
	c := cli.Complete(args, lister{e})
	if c.Files {
		fmt.Fprintln(e.out, "files")
		return 0
	}
	fmt.Fprintln(e.out, "words")
	for _, w := range c.Words {
		fmt.Fprintln(e.out, w)
	}
	return 0
}

// lister finds what completion offers from the machine; it fails
// quietly, as a shell waiting on it must not hang or print errors.
type lister struct{ e *env }

func (l lister) NetNS() []string {
	ents, _ := os.ReadDir("/var/run/netns")
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

func (l lister) Interfaces() []string {
	ifs, _ := net.Interfaces()
	var out []string
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out
}

func (l lister) Services(kind string) []string {
	dial := l.e.dial
	if dial == nil {
		dial = ipvs.New
	}
	c, err := dial(&ipvs.Config{})
	if err != nil {
		return nil
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(l.e.ctx, time.Second)
	defer cancel()
	svcs, _ := c.Services(ctx)
	var out []string
	for _, s := range svcs {
		switch {
		case kind == "fwmark" && s.FWMark != 0:
			out = append(out, strconv.FormatUint(uint64(s.FWMark), 10))
		case s.FWMark == 0 && s.Protocol.String() == kind:
			out = append(out, netip.AddrPortFrom(s.Address, s.Port).String())
		}
	}
	return out
}
