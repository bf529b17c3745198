//go:build !linux

package check

// setMark fails: firewall marks are Linux's.
func setMark(uintptr, uint32) error { return ErrUnsupported }
