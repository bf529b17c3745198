// Package ipvstest helps test code that uses package ipvs, in two ways.
//
// # A client of the real kernel, in a namespace of its own
//
// NewKernelClient returns an *ipvs.Client bound to a fresh network
// namespace with lo up, removed when the test ends. It skips the test
// when the process may not make namespaces or use IPVS (CAP_SYS_ADMIN and
// CAP_NET_ADMIN), or when the kernel has no IPVS, unless the environment
// sets IPVS_REQUIRED=1, which turns each skip into a failure (for CI
// machines that must run the tests). Each call makes its own namespace,
// so tests and packages may run in parallel.
//
// # An in-memory IPVS
//
// NewFake returns a model of the kernel's IPVS for one namespace, and
// Fake.Client a real *ipvs.Client that speaks netlink bytes to it: the
// client's whole path runs (validation, encoding, framing, dumps over
// several datagrams, decoding), against replies encoded as the kernel
// encodes them (checked byte for byte against replies captured from
// Linux 5.10, 6.1, 6.12 and 7.2). The model follows the kernel's rules:
//
//   - the genetlink core's checks: EOPNOTSUPP for an unknown command or a
//     dump of a do-only command (and the reverse), ERANGE with an
//     extended ACK for a malformed top-level attribute, ENOENT for an
//     unknown family ID;
//   - errnos: EEXIST for duplicates, ESRCH for a missing service or
//     daemon, ENOENT for a missing destination and for an unknown
//     scheduler or persistence engine, ENODEV for an unknown daemon
//     interface, ERANGE for a weight of 2^31 or more and for a lower
//     threshold above the upper one, EINVAL for missing attributes, an
//     IPv6 netmask outside 1..128, a GUE tunnel without a port, an upper
//     threshold above 2^31-1 (from Linux 6.1; 5.10 accepts it), a
//     mixed-family destination that does not tunnel or meets a running
//     sync daemon (and a daemon started beside one), addresses that are
//     not unicast, timeouts beyond 2^31-1 jiffies;
//   - the flags merge new = (old &^ mask) | (flags & mask) on create and
//     update, with FlagHashed set on every live service;
//   - persistence timeouts stored as seconds × HZ in 32 bits (HZ 250), so
//     that values above 17,179,869 s wrap as the kernel's do;
//   - dumps that resume at an index for each chunk, sized as the kernel
//     sizes them (a page for a socket's first, then up to 32 KiB from the
//     largest read), ending with NLMSG_DONE alone; GET_DEST of a missing
//     service is an empty dump; no ACK for a dump;
//   - sync daemons with the kernel's defaults (224.0.0.81, port 8848,
//     TTL 1, message length from the MTU) and clamps;
//   - the Generic Netlink controller, which resolves "IPVS" to the
//     family's ID (Fake.Reload gives it a new one, as reloading ip_vs does).
//
// The client's procfs methods (Connections, ConnectionStates, Sysctls,
// SetSysctls, Totals) read and write the model's procfs, printed as the
// kernel prints it, never the host's: a fresh namespace's sysctls
// (Fake.SetSysctl changes them), a connection table that
// Fake.SetConnectionTable sets and the namespace's totals, which
// Fake.SetTotals sets.
//
// A test reads the model's table directly (Fake.VirtualServers, Timeouts,
// Daemons), sets what traffic would set (Fake.SetConnections,
// SetServiceStats, SetDestinationStats, SetConnectionTable, SetTotals),
// and injects faults with Fake.Inject: an errno for chosen requests, a
// lost or delayed answer, a dump marked interrupted, or one that skips or
// repeats objects as the kernel's do while other programs change their
// tables.
//
// The differential tests of this package (TestKernelDifferential, built
// with the integration tag) run the same steps, through the client and as
// raw requests for what the client refuses to send, against the model and
// against each kernel of the project's matrix. After each step they
// compare the errno, the table as the client reads it, and the bytes of
// every reply to the service, destination, daemon and timeout reads.
// Where the kernels differ, SetKernelVersion selects the behaviour.
//
// # Tests written for genltest
//
// NewGenltestClient puts a function of mdlayher's genltest, the usual
// stand-in kernel of Go netlink tests, behind a real *ipvs.Client, and
// frames its answers as the kernel would. The drop-ins of compat/ run
// cloudflare/ipvs's own genltest-based tests on this library with it.
//
// # Known differences from the kernel
//
//   - The model's namespace has lo up and no other address or route. Its
//     address checks are the kernel's for such a namespace: IPv4 0.0.0.0,
//     255.255.255.255, 127.255.255.255 and multicast, and IPv6 ::,
//     multicast, link-local and v4-mapped destinations are refused.
//     Addresses a test adds to interfaces are not modelled.
//   - Schedulers and persistence engines are names only: nothing is
//     scheduled, and no connections exist but the counts a test sets.
//     "twos" (Linux 6.2 and later) is not in DefaultSchedulers.
//   - Info reports a fixed connection table size (4096, or what
//     SetConnectionTableSize sets); Linux 7.2 reports 0 before a
//     namespace's first service and 256 after it.
//   - A removed destination is forgotten at once: the kernel keeps it in
//     a trash list for a while and revives it, counters included, when
//     it is added again.
//   - Services are dumped in creation order (firewall-mark services
//     last); the kernel lists them in hash order, which varies by boot.
//   - Extended ACKs carry the message and the offset of the offending
//     attribute, not the policy the kernel also reports.
//   - The kernel never sets NLM_F_DUMP_INTR on IPVS dumps; the model does
//     only when a Fault asks it to.
//   - The controller knows two families, nlctrl and IPVS, and answers
//     only CTRL_CMD_GETFAMILY requests (not dumps).
//   - The sysctls are Linux 7.2's defaults (less those an older
//     SetKernelVersion lacks), with sync_qlen_max and est_cpulist as a
//     VM of 1 GiB and two CPUs has them; the model keeps a value as it
//     was written, where the kernel checks the range of some and prints
//     numbers back normalized. The connection table holds what the test
//     set; nothing expires.
//   - Every caller has CAP_NET_ADMIN: the model never answers EPERM
//     unless a Fault injects it.
package ipvstest
