// Package identitycases is the shared table of identity cases: how
// services and destinations given in every form a caller may use (an
// IPv4-mapped address with family 0, ipv4 or ipv6; family 0; a fwmark with
// a family; a destination port of 0; a zone) are identified. The tests of
// every path that identifies services read it through Load, so that all
// agree: the library's (TestIdentity: its keys, a single call, a batch and
// reconcile, on ipvstest's in-memory IPVS), ipvsctl's restore and the
// exporter's de-duplication. It is internal-only; the nested modules may
// import it, since Go's internal rule goes by import path.
//
// The table is identity.json, embedded: a JSON array of cases, each an
// object with:
//
//	name            a unique description, for test output;
//	service         the identity of a service as a caller gives it:
//	                "family" (2 for ipv4, 10 for ipv6, 0 or absent for
//	                none), "protocol" (6 tcp, 17 udp, 132 sctp), "address"
//	                (any form netip.ParseAddr takes), "port", "fwmark";
//	key             the ipvs.ServiceKey expected of it, with the same
//	                fields ("address" "" for a fwmark service);
//	text            ServiceKey.String of that key, as ipvsadm names it;
//	destination     a destination of that service as a caller gives it:
//	                "family", "address", "port", and "forward" (0 masq,
//	                2 tunnel, ...; absent is masq);
//	destinationKey  the destination's key (Destination.Key), as
//	                "ADDR:PORT" or "[ADDR]:PORT".
//
// The numbers are the kernel's (AF_*, IPPROTO_*, IP_VS_CONN_F_*), which
// are the values of package ipvs's constants, so each object decodes with
// encoding/json straight into ipvs.Service, ipvs.ServiceKey and
// ipvs.Destination (field names match case-insensitively). A case's
// service and destination are valid once given a scheduler and a weight,
// and no two cases have the same key, so that all of them can be created
// in one table. A test that cannot express a case (ipvsadm's syntax has
// no family 0 and no zone) skips it by name and says so.
package identitycases

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ipvs-go/ipvs"
)

//go:embed identity.json
var table []byte

// Case is one case of the table.
type Case struct {
	Name           string
	Service        ipvs.Service
	Key            ipvs.ServiceKey
	Text           string
	Destination    ipvs.Destination
	DestinationKey netip.AddrPort
}

// Load returns the cases of the table, or ends the test if the table does
// not hold what its format promises: only known fields, at least one case,
// and no two cases with the same key.
func Load(t testing.TB) []Case {
	t.Helper()
	cases, err := parse(table)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// parse decodes and checks a table.
func parse(b []byte) ([]Case, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cases []Case
	if err := dec.Decode(&cases); err != nil {
		return nil, fmt.Errorf("identity.json: %w", err)
	}
	if len(cases) == 0 {
		return nil, errors.New("identity.json holds no case")
	}
	seen := map[ipvs.ServiceKey]string{}
	for _, c := range cases {
		if other, ok := seen[c.Key]; ok {
			return nil, fmt.Errorf("identity.json: cases %q and %q expect the same key %v: each case must be a service of its own", other, c.Name, c.Key)
		}
		seen[c.Key] = c.Name
	}
	return cases, nil
}
