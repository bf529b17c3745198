// Package ns is a drop-in for github.com/moby/ipvs/ns: it remembers a
// network namespace as the initial one, to return to, and keeps a netlink
// handle opened there. It is Linux-only, as moby's is.
package ns
