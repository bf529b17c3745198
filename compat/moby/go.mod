module github.com/ipvs-go/ipvs/compat/moby

go 1.26.0

require (
	github.com/ipvs-go/ipvs v0.0.0-20261206013838-463561abf2de
	github.com/mdlayher/genetlink v1.4.0
	github.com/vishvananda/netlink v1.1.0
	github.com/vishvananda/netns v0.0.4
	golang.org/x/sys v0.49.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/mdlayher/netlink v1.11.2 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	golang.org/x/net v0.53.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)
