package fleet

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the plan for a person: each virtual server created,
// updated (its lines removed and added) or deleted.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "against revision %d: %d virtual servers in etcd, %d in the configuration", p.Revision, p.Current, p.Keys)
	if p.Marker != nil {
		fmt.Fprintf(&b, "; last applied by %s at %s", p.Marker.By, p.Marker.At.Format("2006-01-02 15:04:05Z07:00"))
		if p.Marker.State == markerApplying {
			b.WriteString(" (unfinished)")
		}
	}
	b.WriteString("\n")
	for _, e := range p.Invalid {
		fmt.Fprintf(&b, "! %s is refused by every director: %s\n", e.Key, e.Error)
	}
	if len(p.Changes) == 0 {
		b.WriteString("no changes\n")
	}
	for _, c := range p.Changes {
		switch c.Kind {
		case "create":
			fmt.Fprintf(&b, "+ %s (new)\n", c.Name)
			for _, l := range lines(c.New) {
				fmt.Fprintf(&b, "    + %s\n", l)
			}
		case "delete":
			fmt.Fprintf(&b, "- %s (deleted)\n", c.Name)
		default:
			fmt.Fprintf(&b, "~ %s\n", c.Name)
			for _, l := range lineDiff(lines(c.Old), lines(c.New)) {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		}
	}
	if n := len(p.Changes); n > 0 {
		fmt.Fprintf(&b, "%d changes\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

// lineDiff returns the lines of a and b as a diff: "- " for a line of a
// only, "+ " for one of b only, "  " for one of both, with at most one
// line of context around each change.
func lineDiff(a, b []string) []string {
	// The longest common subsequence, by dynamic programming: a virtual
	// server is tens of lines.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var all []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			all = append(all, "  "+a[i])
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			all = append(all, "+ "+b[j])
			j++
		default:
			all = append(all, "- "+a[i])
			i++
		}
	}
	var out []string
	for k, l := range all {
		changed := func(k int) bool { return k >= 0 && k < len(all) && all[k][0] != ' ' }
		if l[0] != ' ' || changed(k-1) || changed(k+1) {
			out = append(out, l)
		} else if len(out) > 0 && out[len(out)-1] != "  ..." {
			out = append(out, "  ...")
		}
	}
	if len(out) > 0 && out[len(out)-1] == "  ..." {
		out = out[:len(out)-1]
	}
	return out
}
