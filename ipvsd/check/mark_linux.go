package check

import "syscall"

// setMark sets SO_MARK on the socket fd.
func setMark(fd uintptr, mark uint32) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(mark))
}
