package ipvs

import (
	"errors"
	"syscall"

	"github.com/mdlayher/genetlink"
)

// This file holds what moby/ipvs's own tests call besides its API, so
// that they build against this package unchanged (see compat/README.md):
// two helpers this package does not need, since the library looks the
// family up itself and takes a destination's family from the kernel or
// the service.

// getIPVSFamily returns the ID of the IPVS Generic Netlink family.
//
//lint:ignore U1000 called by moby/ipvs's TestGetFamily
func getIPVSFamily() (int, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	f, err := c.GetFamily("IPVS")
	return int(f.ID), err
}

// getIPFamily guesses the family of a 16-byte address with no family
// attribute beside it, as kernels before 3.18 send destinations: IPv4
// when only its first 4 bytes are set.
//
//lint:ignore U1000 called by moby/ipvs's Test_getIPFamily
func getIPFamily(address []byte) (uint16, error) {
	nonzero := func(b []byte) bool {
		for _, v := range b {
			if v != 0 {
				return true
			}
		}
		return false
	}
	switch {
	case len(address) == 4:
		return syscall.AF_INET, nil
	case !nonzero(address):
		return 0, errors.New("could not parse IP family from address data")
	case len(address) > 4 && nonzero(address[:4]) && !nonzero(address[4:]):
		return syscall.AF_INET, nil
	}
	return syscall.AF_INET6, nil
}
