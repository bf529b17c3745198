package ns

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetlinkSocketsTimeout is the send and receive timeout of the sockets of
// the handle NlHandle returns.
const NetlinkSocketsTimeout = 3 * time.Second

var (
	mu         sync.Mutex
	initNS     netns.NsHandle = netns.None()
	initNl     *netlink.Handle
	initDone   bool
	nlFamilies = []int{unix.NETLINK_ROUTE, unix.NETLINK_XFRM, unix.NETLINK_NETFILTER}
)

// Init takes the calling thread's network namespace as the initial one,
// and opens the netlink handle of NlHandle in it, for the families the
// kernel has of route, xfrm and netfilter. Call it again after moving the
// thread to another namespace (as tests that make one do) to make that
// one the initial namespace. What fails is logged, as moby's Init logs
// it: the handle of a family the kernel lacks is simply not opened, and
// this package, unlike moby's, never runs modprobe to load one.
func Init() {
	mu.Lock()
	defer mu.Unlock()
	initLocked()
}

func initLocked() {
	initDone = true
	h, err := netns.Get()
	if err != nil {
		slog.Error("ns: could not get the initial network namespace", "err", err)
	}
	initNS = h
	nl, err := netlink.NewHandle(supportedFamilies()...)
	if err != nil {
		slog.Error("ns: could not open a netlink handle in the initial network namespace", "err", err)
		return
	}
	if err := nl.SetSocketTimeout(NetlinkSocketsTimeout); err != nil {
		slog.Warn("ns: could not set the timeout of the netlink handle's sockets", "err", err)
	}
	// A handle NlHandle returned earlier may still be in use: it is left
	// open, as moby's Init leaves it.
	initNl = nl
}

// supportedFamilies returns the netlink families of nlFamilies that this
// kernel can open a socket of.
func supportedFamilies() []int {
	var fams []int
	for _, f := range nlFamilies {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, f)
		if err != nil {
			if f == unix.NETLINK_ROUTE {
				fams = append(fams, f) // let NewHandle report it
			}
			continue
		}
		_ = unix.Close(fd)
		fams = append(fams, f)
	}
	return fams
}

// once runs Init the first time the package's state is needed.
func once() {
	if !initDone {
		initLocked()
	}
}

// SetNamespace moves the calling thread back to the initial network
// namespace.
func SetNamespace() error {
	mu.Lock()
	defer mu.Unlock()
	once()
	if err := netns.Set(initNS); err != nil {
		where, lerr := os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if lerr != nil {
			where = lerr.Error()
		}
		return fmt.Errorf("failed to set to initial namespace, %s, initns fd %d: %w", where, initNS, err)
	}
	return nil
}

// ParseHandlerInt returns the file descriptor of the initial network
// namespace, or -1 if it could not be opened.
func ParseHandlerInt() int {
	mu.Lock()
	defer mu.Unlock()
	once()
	return int(initNS)
}

// NlHandle returns the netlink handle opened in the initial network
// namespace, or nil if it could not be opened.
func NlHandle() *netlink.Handle {
	mu.Lock()
	defer mu.Unlock()
	once()
	return initNl
}
