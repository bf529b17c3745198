package ipvs

import (
	"context"
	"fmt"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// Info describes the kernel's IPVS.
type Info struct {
	// Version is the IPVS version, such as 1.2.1.
	Version Version
	// ConnectionTableSize is the number of buckets of the connection
	// hash table. Up to Linux 6.12 at least, it is fixed at load by the
	// ip_vs module's conn_tab_bits parameter and shared by all network
	// namespaces; Linux 7.2 reports a table of the namespace's own: 0
	// before the namespace's first service, 256 buckets after it.
	ConnectionTableSize uint32
}

// Version is an IPVS version number.
type Version struct {
	Major, Minor, Patch uint8
}

// String returns the version as "1.2.1".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// decodeInfoReply decodes the attributes of the SET_INFO reply to
// GET_INFO, which are at the top level.
func decodeInfoReply(p []byte, info *Info) error {
	*info = Info{}
	a := attrs{b: p}
	for a.next() {
		switch a.typ {
		case ipvsh.InfoAttrVersion:
			v := a.u32("info VERSION")
			info.Version = Version{Major: uint8(v >> 16), Minor: uint8(v >> 8), Patch: uint8(v)}
		case ipvsh.InfoAttrConnTabSize:
			info.ConnectionTableSize = a.u32("info CONN_TAB_SIZE")
		}
	}
	return a.err
}

// Info returns the kernel's IPVS version and connection table size.
func (c *Client) Info(ctx context.Context) (Info, error) {
	return get(ctx, c, reqInfo, tableWide{}, decodeInfoReply)
}
