// Package names resolves ports and addresses to names and back as ipvsadm
// does through libc: getservbyname/getservbyport over /etc/services, and
// gethostbyname/gethostbyaddr over the system's resolver (the hosts file,
// then DNS). Results are cached: a listing asks for the same names often.
package names

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs"
)

// ServicesFile is the services database; a variable for tests.
var ServicesFile = "/etc/services"

// lookupTimeout bounds one host lookup, as the resolver's own retries would.
const lookupTimeout = 5 * time.Second

type service struct {
	name  string
	port  int
	proto string
}

var (
	servicesOnce sync.Once
	services     []service
)

// loadServices reads the services database once; a missing file is an
// empty database, as for libc.
func loadServices() {
	f, err := os.Open(ServicesFile)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		portText, proto, ok := strings.Cut(fields[1], "/")
		port, err := strconv.Atoi(portText)
		if !ok || err != nil || port < 0 || port > 65535 {
			continue
		}
		services = append(services, service{fields[0], port, proto})
		for _, alias := range fields[2:] {
			services = append(services, service{alias, port, proto})
		}
	}
}

// Proto returns the name of a protocol in the services database ("tcp",
// "udp", "sctp"), or "" for another.
func Proto(p ipvs.Protocol) string {
	switch p {
	case ipvs.ProtocolTCP:
		return "tcp"
	case ipvs.ProtocolUDP:
		return "udp"
	case ipvs.ProtocolSCTP:
		return "sctp"
	}
	return ""
}

// Port returns the port of a service name for proto ("tcp", "udp",
// "sctp"), as getservbyname.
func Port(name, proto string) (int, bool) {
	servicesOnce.Do(loadServices)
	for _, s := range services {
		if s.name == name && s.proto == proto {
			return s.port, true
		}
	}
	return 0, false
}

// PortName returns the first service name of port for proto, as
// getservbyport.
func PortName(port int, proto string) (string, bool) {
	servicesOnce.Do(loadServices)
	for _, s := range services {
		if s.port == port && s.proto == proto {
			return s.name, true
		}
	}
	return "", false
}

var (
	hostMu    sync.Mutex
	hostNames = map[netip.Addr]string{}
)

// HostName returns the name of addr, or "" if it has none, as
// gethostbyaddr: the first name found, without a trailing dot.
func HostName(addr netip.Addr) string {
	hostMu.Lock()
	name, ok := hostNames[addr]
	hostMu.Unlock()
	if ok {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if found, err := net.DefaultResolver.LookupAddr(ctx, addr.String()); err == nil && len(found) > 0 {
		name = strings.TrimSuffix(found[0], ".")
	}
	hostMu.Lock()
	hostNames[addr] = name
	hostMu.Unlock()
	return name
}

// HostAddr returns the first IPv4 address of a host name, as gethostbyname
// in ipvsadm, which takes only IPv4 answers.
func HostAddr(name string) (netip.Addr, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, false
	}
	return addrs[0].Unmap(), true
}
