#!/usr/bin/env bash
# packaging/release-install.sh OUT: installs each Debian package of OUT for
# this machine's architecture with dpkg -i into a clean Debian bookworm
# (debootstrap's minbase, from the archive this machine's apt uses, made
# once into RELEASE_CACHE and unpacked afresh for each run), then runs
# each program's --version there, and checks that the units and pages
# are where systemd and man look. Needs root (chroot) and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "release-install: $*" >&2; exit 1; }
OUT=$(cd "${1:?usage: release-install.sh OUT}" && pwd)
CACHE=${RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipvs-release}
SUITE=bookworm
arch=$(dpkg --print-architecture)
[ "$(id -u)" = 0 ] || die "needs root, for debootstrap and chroot"
if ! command -v debootstrap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
		die "could not install debootstrap"
fi

base=$CACHE/$SUITE-minbase-$arch.tar
if [ ! -s "$base" ]; then
	. vm/archive.sh
	mirror=$(archive_uris | head -n1)
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "release-install: debootstrap --variant=minbase $SUITE from $mirror (once, into $CACHE)"
	debootstrap --variant=minbase --arch="$arch" "$SUITE" "$tmp/root" "$mirror" >"$tmp/log" 2>&1 ||
		{ tail -20 "$tmp/log" >&2; die "debootstrap failed"; }
	tar -C "$tmp/root" -cf "$base.new" . && mv "$base.new" "$base"
	rm -rf "$tmp"
	trap - EXIT
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$base"
mkdir -p "$root/tmp/debs"
cp "$OUT"/*_"$arch".deb "$root/tmp/debs/"
for deb in "$root"/tmp/debs/*.deb; do
	pkg=$(dpkg-deb --field "$deb" Package)
	chroot "$root" dpkg -i "/tmp/debs/$(basename "$deb")" >/dev/null || die "dpkg -i $(basename "$deb") failed"
	[ "$(chroot "$root" dpkg-query -W -f '${Status}' "$pkg")" = "install ok installed" ] || die "$pkg is not installed"
done
for p in ipvsctl:8 ipvs_exporter:1 ipvsd:8; do
	name=${p%:*} section=${p#*:}
	# kingpin prints the version on stderr.
	line=$(chroot "$root" "/usr/bin/$name" --version 2>&1) || die "$name --version failed in the chroot"
	case $line in "$name "*) ;; *) die "$name --version: $line" ;; esac
	echo "release-install: $line"
	[ -s "$root/usr/share/man/man$section/$name.$section.gz" ] || die "no man page for $name"
	[ -s "$root/lib/systemd/system/$name.service" ] || die "no unit for $name"
done
[ -s "$root/lib/systemd/system/ipvs_exporter.socket" ] || die "no ipvs_exporter.socket"
# The exporter's defaults are the administrator's: kept on upgrade.
grep -qx /etc/default/ipvs_exporter "$root/var/lib/dpkg/info/ipvs-exporter.conffiles" || die "/etc/default/ipvs_exporter is no conffile"
echo "release-install: the $arch packages install into a clean $SUITE and run"
