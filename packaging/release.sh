#!/usr/bin/env bash
# packaging/release.sh [OUT]: the release's artefacts in OUT (build/release),
# from the repository's root: static binaries of ipvsctl, ipvs_exporter
# and ipvsd for linux/amd64 and linux/arm64, their man pages, a Debian
# package of each program for each architecture, and SHA256SUMS of them
# all. Then it checks them (release-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/release}
GO=${GO:-go}
NFPM_VERSION=v2.48.0
ARCHES=(amd64 arm64)
# name module package section nfpm-config
PROGRAMS=(
	"ipvsctl cmd/ipvsctl . 8 ipvsctl"
	"ipvs_exporter exporter ./cmd/ipvs_exporter 1 ipvs-exporter"
	"ipvsd ipvsd ./cmd/ipvsd 8 ipvsd"
)

rm -rf "$OUT"
mkdir -p "$OUT/man"
OUT=$(cd "$OUT" && pwd)
start=$SECONDS

# -buildvcs=auto: the go command records the module's version and the
# commit whatever GOFLAGS says (this machine's turns it off); -trimpath
# keeps the build's paths out.
for arch in "${ARCHES[@]}"; do
	for p in "${PROGRAMS[@]}"; do
		read -r name module pkg _ _ <<<"$p"
		(cd "$module" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch \
			$GO build -trimpath -buildvcs=auto -ldflags='-s -w' -o "$OUT/$name-linux-$arch" "$pkg")
	done
done
echo "release: binaries in $((SECONDS - start))s"

# The pages come from the binaries that run here, and say the same for
# every architecture.
host=$($GO env GOHOSTARCH)
(cd packaging && $GO build -o "$OUT/manpage" ./manpage)
for p in "${PROGRAMS[@]}"; do
	read -r name _ _ section _ <<<"$p"
	"$OUT/manpage" -binary "$OUT/$name-linux-$host" -section "$section" -o "$OUT/man/$name.$section"
	gzip -9n <"$OUT/man/$name.$section" >"$OUT/man/$name.$section.gz"
done
rm "$OUT/manpage"

# A package's version is its program module's, as the go command recorded
# it: the tag, or a pseudo-version of the commit; nfpm makes it Debian's.
for arch in "${ARCHES[@]}"; do
	for p in "${PROGRAMS[@]}"; do
		read -r name _ _ _ config <<<"$p"
		version=$($GO version -m "$OUT/$name-linux-$arch" | awk '$1 == "mod" {print $3; exit}')
		[ "$version" != "(devel)" ] || version=v0.0.0-devel
		ARCH=$arch VERSION=$version RELEASE=$OUT $GO run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" \
			package --config "packaging/nfpm/$config.yaml" --packager deb --target "$OUT/" >/dev/null
	done
done
echo "release: packages in $((SECONDS - start))s"

(cd "$OUT" && sha256sum -- *-linux-* *.deb >SHA256SUMS)
bash packaging/release-check.sh "$OUT"
echo "release: checked in $((SECONDS - start))s"
