// Package ipvs is a drop-in for github.com/moby/ipvs v1.1.0, built on
// github.com/ipvs-go/ipvs: the same names, signatures and types, so that
// a program that uses moby/ipvs builds unchanged with
//
//	replace github.com/moby/ipvs => github.com/ipvs-go/ipvs/compat/moby VERSION
//
// in its go.mod. Calls behave as moby/ipvs's do where a program could
// depend on it: kernel errors are the bare syscall.Errno (err ==
// syscall.EEXIST, "file exists"), an empty table is a nil slice. Where
// moby/ipvs is wrong, this package is not: a weight above 65,535 reads
// back whole, a reply that never comes ends the call, a nil argument is
// an error rather than a panic. The repository's compat/README.md lists
// every difference and why.
package ipvs
