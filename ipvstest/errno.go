package ipvstest

import "syscall"

// errno is a Linux errno. The numbers are Linux's on every system, since
// they travel in netlink messages; syscall's constants differ elsewhere.
type errno = syscall.Errno

const (
	ePERM        errno = 1
	eNOENT       errno = 2
	eSRCH        errno = 3
	eINTR        errno = 4
	eBUSY        errno = 16
	eEXIST       errno = 17
	eNODEV       errno = 19
	eINVAL       errno = 22
	eRANGE       errno = 34
	eOPNOTSUPP   errno = 95
	eAFNOSUPPORT errno = 97
)
