module github.com/ipvs-go/ipvs/ipvsd

go 1.26.0

require (
	github.com/alecthomas/kingpin/v2 v2.4.0
	github.com/ipvs-go/ipvs v0.0.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/net v0.62.0
)

require (
	github.com/alecthomas/units v0.0.0-20211218093645-b94a6e3cc137 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/mdlayher/genetlink v1.4.0 // indirect
	github.com/mdlayher/netlink v1.11.2 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	github.com/xhit/go-str2duration/v2 v2.1.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/ipvs-go/ipvs => ../

replace github.com/ipvs-go/ipvs/exporter => ../exporter
