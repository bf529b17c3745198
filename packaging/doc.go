// Package packaging holds the tests of what this directory ships with the
// programs: the systemd units (systemd/, and ipvsd's own in
// ../ipvsd/systemd), the manual pages that manpage/ makes from each
// program's --help, and the Debian packages of nfpm/. It is a module of its
// own, so that none of it reaches the library's users.
package packaging
