module github.com/ipvs-go/ipvs/packaging

go 1.26.0
