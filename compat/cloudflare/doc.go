// Package ipvs is a drop-in for github.com/cloudflare/ipvs v0.12.0, built
// on github.com/ipvs-go/ipvs: the same names, signatures and types, so
// that a program that uses cloudflare/ipvs builds unchanged with
//
//	replace github.com/cloudflare/ipvs => github.com/ipvs-go/ipvs/compat/cloudflare VERSION
//
// in its go.mod. That line also puts this module's netmask package in
// the place of cloudflare/ipvs/netmask, which this package imports by
// that path. Calls behave as cloudflare/ipvs's do where a program could
// depend on it: a kernel error is a *netlink.OpError carrying the errno
// ("netlink receive: file exists"). Where cloudflare/ipvs is wrong, this
// package is not: an empty table is an empty list rather than
// os.ErrNotExist, a service without a netmask gets the full one rather
// than the kernel's EINVAL. The repository's compat/README.md lists every
// difference and why.
package ipvs
