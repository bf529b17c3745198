package ipvs

import (
	"errors"
	"io"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"

	"github.com/ipvs-go/ipvs/ipvstest"
)

// This file holds what cloudflare/ipvs's own tests call besides its API,
// so that they build against this package unchanged (see
// compat/README.md). They reach into the peer's client through these
// names; here each goes through the library, as the package does.

// initClient returns a client whose requests go to conn, a genltest
// connection, through the library.
func initClient(conn *genetlink.Conn) (*client, error) {
	c, err := ipvstest.NewGenltestClient(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &client{c: c}, nil
}

// peerFamily is the family the genltest stand-ins below serve.
var peerFamily = genetlink.Family{ID: 0x24, Version: 1, Name: "IPVS"}

// packService returns the attributes of the service nest this package
// sends to create svc: the library encodes them, checking svc first.
//
//lint:ignore U1000 called by cloudflare/ipvs's TestService_PackUnpack
func packService(svc Service) func() ([]byte, error) {
	return func() ([]byte, error) {
		var nest []byte
		c, err := initClient(genltest.Dial(genltest.ServeFamily(peerFamily, func(req genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
			ad, err := netlink.NewAttributeDecoder(req.Data)
			if err != nil {
				return nil, err
			}
			for ad.Next() {
				if ad.Type() == 1 { // IPVS_CMD_ATTR_SERVICE
					nest = ad.Bytes()
				}
			}
			return []genetlink.Message{{}}, ad.Err()
		})))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		if err := c.CreateService(svc); err != nil {
			return nil, err
		}
		return nest, nil
	}
}

// unpackService returns a function that decodes the attributes of a
// service nest into svc, as this package reads a service the kernel
// lists: the library decodes them.
//
//lint:ignore U1000 called by cloudflare/ipvs's TestService_PackUnpack
func unpackService(svc *ServiceExtended) func(b []byte) error {
	return func(b []byte) error {
		served := false
		c, err := initClient(genltest.Dial(genltest.ServeFamily(peerFamily, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
			if served {
				return nil, io.EOF
			}
			served = true
			return []genetlink.Message{{Data: nltest.MustMarshalAttributes([]netlink.Attribute{{Type: 1, Data: b}})}}, nil
		})))
		if err != nil {
			return err
		}
		defer c.Close()
		svcs, err := c.Services()
		if err != nil {
			return err
		}
		if len(svcs) != 1 {
			return errors.New("the service nest did not decode to one service")
		}
		*svc = svcs[0]
		return nil
	}
}
