#!/usr/bin/env bash
# scripts/pin.sh [REV]: makes every nested module require the repository's
# modules (the library, the exporter, the drop-ins) at the pseudo-version
# of REV (HEAD), a commit of main, and tidies them, with those versions
# served from git (packaging/goproxy). Run it, and commit, when a module
# comes to need a package or a requirement of another that the version
# it requires has not: go.work builds against the working tree whatever
# the version, but go mod tidy reads the version.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
rev=$(git rev-parse "${1:-HEAD}")
proxy=$PWD/build/goproxy
version=$(cd packaging && GOWORK=off $GO run ./goproxy -repo .. -o "$proxy" -pin "$rev" -require)
for m in $(git ls-files 'go.mod' '**/go.mod' | xargs -n1 dirname); do
	[ "$m" != . ] || continue
	(cd "$m" && GOPROXY="file://$proxy,$($GO env GOPROXY)" GONOSUMDB=github.com/ipvs-go $GO mod tidy)
done
echo "pinned to $version ($rev)"
