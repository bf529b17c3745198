#!/usr/bin/env bash
# scripts/release.sh VERSION: tags a release of the repository's modules,
# in the order their requirements ask (README, Releasing), on a clean
# work tree of main:
#   1. VERSION on HEAD: the library (github.com/ipvs-go/ipvs).
#   2. a commit in which exporter, cmd/ipvsctl, compat/moby and
#      compat/cloudflare require the library at VERSION, tagged
#      exporter/VERSION, cmd/ipvsctl/VERSION, compat/moby/VERSION and
#      compat/cloudflare/VERSION.
#   3. a commit in which ipvsd requires the exporter at VERSION (and bench,
#      which is not released, the exporter and the drop-ins), tagged
#      ipvsd/VERSION.
# It pushes nothing: git push origin main --tags publishes the release.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "release: $*" >&2; exit 1; }
V=${1:?usage: scripts/release.sh VERSION}
GO=${GO:-go}
[[ $V =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "$V is no semantic version (v1.2.3)"
[ -z "$(git status --porcelain)" ] || die "the work tree has changes"
! git rev-parse -q --verify "refs/tags/$V" >/dev/null || die "$V is tagged already"
proxy=$(mktemp -d)
trap 'rm -rf "$proxy"' EXIT

# step MESSAGE DIRS: requires the modules tagged VERSION at it, tidies,
# commits and tags the modules of DIRS.
step() {
	(cd packaging && GOWORK=off $GO run ./goproxy -repo .. -o "$proxy" -tagged "$V" -require)
	for m in $(git ls-files 'go.mod' '**/go.mod' | xargs -n1 dirname); do
		[ "$m" != . ] || continue
		(cd "$m" && GOPROXY="file://$proxy,$($GO env GOPROXY)" GONOSUMDB=github.com/ipvs-go GOFLAGS=-mod=mod $GO mod tidy)
	done
	git commit -q -a --allow-empty -m "release $V: $1"
	for d in $2; do git tag "$d/$V"; done
}

git tag "$V"
step "the library's dependents require it at $V" "exporter cmd/ipvsctl compat/moby compat/cloudflare"
step "ipvsd requires the exporter at $V" "ipvsd"
echo "release: tagged $V, exporter/$V, cmd/ipvsctl/$V, compat/moby/$V, compat/cloudflare/$V and ipvsd/$V"
