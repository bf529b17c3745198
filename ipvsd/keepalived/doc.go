// Package keepalived reads the LVS half of a keepalived configuration
// (keepalived.conf, as keepalived 2.2.7 reads it) and converts it into
// an ipvsd configuration.
//
// ParseFile reads the file and its includes with keepalived's own
// syntax: blocks in braces, comments from '#' or '!', double-quoted
// strings, "include" with globs and braces, "@id" conditional lines,
// "$NAME=value" parameters and the ~SEQ and ~LST repetitions. It returns
// a Config that holds what the virtual servers, their real servers and
// their checkers say, each with its file and line. Every directive that
// cannot be carried over into ipvsd is reported, with its file and line,
// as a Diagnostic; the VRRP half is skipped with one note.
//
// Convert turns a Config into ipvsd's configuration, applying
// keepalived's defaults where they differ from ipvsd's.
package keepalived
