//go:build !linux

package ipvs

// netNS stands for a network namespace, which only Linux has: no Client
// of another system holds one.
type netNS struct{}
