#!/usr/bin/env bash
# Boots stock Debian kernels under qemu and runs a static program in each,
# as root, from a small initramfs that also holds busybox, the modules of
# ip_vs and friends, ipvsadm, conntrack, keepalived and etcd.
#
#   vm/run.sh [--] PROGRAM [ARGS...]
#
# The program's output is streamed; the exit status is the program's, or
# 125 for a failure of the VM itself (panic, timeout, no exit code), which
# also prints the console. With several kernels, the status is the first
# non-zero one, and every kernel still runs.
#
# Environment:
#   KERNELS      Debian suites whose linux-image-cloud-amd64 to boot
#                (default: "bullseye bookworm trixie sid")
#   VM_ENV       names of environment variables to pass to the program
#   VM_NO_IPVS   1: remove the ip_vs modules from the guest before the program runs
#   VM_WITHOUT_MODULES  modules (of MODULES) the guest neither loads nor keeps
#   VM_TIMEOUT   seconds before a VM is killed (default 900)
#   VM_MEMORY    the guest's memory, in MiB (default 1024)
#   VM_BOOT_ATTEMPTS  boots of a VM that dies before the program starts,
#                in all (default 3); each retry is logged
#   VM_BOOT_TIMEOUT  seconds a boot may take before the program starts;
#                past them the VM is stopped and counts as dying before
#                the start (default 180)
#   VM_DIE_BEFORE_START  N: for the runner's own test, the first N boots
#                of each kernel panic before the program starts
#   VM_CACHE     download and build cache (default ~/.cache/ipvs-vm)
#   VM_REFRESH   1: resolve the kernel packages anew
#   VM_ACCEL     kvm or tcg (default: kvm only with kvm_intel or kvm_amd loaded)
#   VM_VERBOSE   1: print the console even on success
#   VM_QUIET     1: print only the program's output; what the runner and
#                apt say goes to a log, shown only if the run fails
#   VM_FILES     more files (test binaries, scripts) to copy into the
#                program's working directory in the guest
#
# It installs what it needs (qemu, xz) through apt, and takes every package
# from the Debian archive this machine's apt is configured with, through a
# sources list and apt state of its own, so the system's apt is untouched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KERNELS=${KERNELS:-"bullseye bookworm trixie sid"}
VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_MEMORY=${VM_MEMORY:-1024}
VM_BOOT_ATTEMPTS=${VM_BOOT_ATTEMPTS:-3}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipvs-vm}
# Modules the guest needs; absent ones are built in or not built, and the
# tests that need them say so.
MODULES="ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_fo ip_vs_ovf ip_vs_lblc ip_vs_lblcr
ip_vs_dh ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_twos ip_vs_pe_sip nlmon veth dummy
nf_conntrack_netlink sctp ip_tables iptable_filter xt_conntrack"
# conntrack 1.4.7 is the oracle of the conntrack flush (nf_conntrack_netlink
# serves both; sctp gives the tests SCTP sockets). iptables (legacy, with
# its conntrack match) makes a namespace track connections, as
# kube-proxy's rules do: netfilter tracks none in a namespace without a
# rule that needs it.
USERLAND="busybox-static ipvsadm libnl-3-200 libnl-genl-3-200 libpopt0 libc6
conntrack libnetfilter-conntrack3 libnfnetlink0 libmnl0 iptables libxtables12 libip4tc2 libip6tc2"
# keepalived 2.2.7, the reference ipvsd's differential suite runs beside
# it, with the packages of the libraries its binary loads.
KEEPALIVED="keepalived libssl3 libnftnl11 libmnl0 libpcre2-8-0 libsnmp40 libglib2.0-0 libsystemd0
libsensors5 libpci3 libwrap0 libperl5.36 zlib1g libmount1 libselinux1 libcap2 libgcrypt20 liblzma5
libzstd1 liblz4-1 libffi8 libudev1 libnsl2 libcrypt1 libblkid1 libgpg-error0 libtirpc3
libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1"
# etcd 3.4, the store of ipvsd's fleet tests (its binary needs only libc).
ETCD="etcd-server"

die() { echo "vm/run.sh: $*" >&2; exit 125; }
quietlog=""
if [ "${VM_QUIET:-}" = 1 ]; then
	quietlog=$(mktemp "${TMPDIR:-/tmp}/ipvs-vm-log.XXXXXX")
	exec 3>&2 2>"$quietlog"
fi
# say prints the runner's own lines, which VM_QUIET leaves out.
say() { [ -n "$quietlog" ] || echo "$@"; }
log() { echo "vm/run.sh: $*" >&2; }

[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || die "usage: vm/run.sh PROGRAM [ARGS...]"
prog=$(readlink -f "$1"); shift
[ -x "$prog" ] || die "$prog is not an executable"
if command -v file >/dev/null && file "$prog" | grep -q 'dynamically linked'; then
	die "$prog is dynamically linked; build it with CGO_ENABLED=0"
fi

# --- tools -------------------------------------------------------------------

need_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v xz >/dev/null || missing+=(xz-utils)
	command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: this runner needs a Debian host"
	command -v flock >/dev/null || missing+=(util-linux)
	[ ${#missing[@]} -eq 0 ] && return
	[ "$(id -u)" = 0 ] || die "need ${missing[*]}; run as root, or install them"
	log "installing ${missing[*]}"
	# apt serializes itself; retry once if another apt holds the lock.
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 ||
		(sleep 5 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 ||
		die "could not install ${missing[*]}"
}

# --- the archive -------------------------------------------------------------

# archive_uris (vm/archive.sh) prints the machine's Debian archives.
. "$here/archive.sh"

# apt_for SUITE: sets APT_OPTS to a private apt state that sees only SUITE
# (with its updates and security suites where they exist), and updates it
# when it is missing or a day old.
apt_for() {
	local suite=$1 dir="$CACHE/apt/$1"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	[ -e "$dir/status" ] || : >"$dir/status"
	local uris main sec
	mapfile -t uris < <(archive_uris)
	main=${uris[0]} sec=${uris[1]:-}
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	{
		echo "deb [signed-by=$key] $main $suite main"
		case $suite in
		sid | unstable) ;;
		*)
			echo "deb [signed-by=$key] $main $suite-updates main"
			[ -z "$sec" ] || echo "deb [signed-by=$key] $sec $suite-security main"
			;;
		esac
	} >"$dir/sources.list.new"
	APT_OPTS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache" -o "Dir::State::status=$dir/status" -o APT::Architecture=amd64
		-o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false)
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" 2>/dev/null || [ -n "${VM_REFRESH:-}" ] ||
		[ -z "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
		mv "$dir/sources.list.new" "$dir/sources.list"
		log "updating the package lists of $suite"
		apt-get "${APT_OPTS[@]}" update -qq 2>&1 | { grep -v unsandboxed || true; } >&2; [ "${PIPESTATUS[0]}" = 0 ] || die "apt-get update for $suite failed"
	else
		rm -f "$dir/sources.list.new"
	fi
}

# download DIR PACKAGES...: fetch .debs into DIR (kept as a cache).
download() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && apt-get "${APT_OPTS[@]}" download "$@" >&2 2> >(grep -v 'unsandboxed' >&2)) ||
		die "apt-get download $* failed"
}

# --- kernels -----------------------------------------------------------------

# prepare_kernel SUITE: resolves, downloads and unpacks the suite's cloud
# kernel, and keeps its kernel and the closure of MODULES. Sets KVER,
# VMLINUZ, MODROOT. The state file names MODULES' checksum, so that a
# change of the list takes the kernel anew.
prepare_kernel() {
	local suite=$1 state="$CACHE/state-$1" modkey
	modkey=$(echo "$MODULES" | cksum | cut -d' ' -f1)
	unset KVER VMLINUZ MODROOT MODKEY
	if [ -z "${VM_REFRESH:-}" ] && [ -s "$state" ] && . "$state" && [ "${MODKEY:-}" = "$modkey" ] &&
		[ -s "${MODROOT:-}/vmtest/modules" ] && [ -s "${VMLINUZ:-}" ]; then
		return
	fi
	apt_for "$suite"
	local image
	image=$(apt-cache "${APT_OPTS[@]}" depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	[ -n "$image" ] || die "no linux-image-cloud-amd64 in $suite"
	KVER=${image#linux-image-}
	# Newer kernels split the image into binary, modules and base packages.
	local pkgs=("$image")
	local dep
	for dep in $(apt-cache "${APT_OPTS[@]}" depends "$image" 2>/dev/null | awk '/Depends: linux-(binary|modules)-/{print $2}'); do
		pkgs+=("$dep")
	done
	log "$suite: kernel $KVER (${pkgs[*]})"
	local kdir="$CACHE/kernels/$KVER"
	rm -rf "$kdir" && mkdir -p "$kdir/debs" "$kdir/tree"
	download "$kdir/debs" "${pkgs[@]}"
	local deb
	for deb in "$kdir"/debs/*.deb; do dpkg-deb -x "$deb" "$kdir/tree"; done
	VMLINUZ=""
	for f in "$kdir/tree/boot/vmlinuz-$KVER" "$kdir/tree/usr/lib/modules/$KVER/vmlinuz" "$kdir/tree/lib/modules/$KVER/vmlinuz"; do
		[ -s "$f" ] && VMLINUZ=$f && break
	done
	[ -n "$VMLINUZ" ] || die "no vmlinuz in ${pkgs[*]}"
	local moddir=""
	for d in "$kdir/tree/lib/modules/$KVER" "$kdir/tree/usr/lib/modules/$KVER"; do
		[ -d "$d/kernel" ] && moddir=$d && break
	done
	[ -n "$moddir" ] || die "no modules in ${pkgs[*]}"
	MODROOT="$kdir/modules" MODKEY=$modkey
	build_modules "$moddir" "$MODROOT"
	# Keep the kernel and the modules; drop the unpacked tree.
	cp "$VMLINUZ" "$kdir/vmlinuz" && VMLINUZ="$kdir/vmlinuz"
	rm -rf "$kdir/tree" "$kdir/debs" "$kdir"/base*.cpio.gz
	printf 'KVER=%q\nVMLINUZ=%q\nMODROOT=%q\nMODKEY=%q\n' "$KVER" "$VMLINUZ" "$MODROOT" "$MODKEY" >"$state"
}

# prepare_userland: busybox, ipvsadm, keepalived, conntrack, iptables, etcd and
# their libraries, from the host's own suite (they only need to run, on any of
# the kernels).
# The cache is named by a checksum of the package lists and of this
# function, so that a change of either builds it anew. Sets USR.
prepare_userland() {
	local key
	key=$({ echo "$USERLAND $KEEPALIVED $ETCD"; declare -f prepare_userland copy_libs; } | cksum | cut -d' ' -f1)
	USR="$CACHE/userland-$key"
	[ -e "$USR/done" ] && return
	local codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	apt_for "$codename"
	rm -rf "$USR" && mkdir -p "$USR/debs" "$USR/x"
	download "$USR/debs" $USERLAND $KEEPALIVED $ETCD
	for deb in "$USR"/debs/*.deb; do dpkg-deb -x "$deb" "$USR/x"; done
	local r="$USR/root"
	mkdir -p "$r/bin" "$r/sbin" "$r/usr/sbin" "$r/lib/x86_64-linux-gnu" "$r/lib64"
	cp "$USR/x/bin/busybox" "$r/bin/busybox"
	cp "$USR/x/sbin/ipvsadm" "$r/usr/sbin/ipvsadm" 2>/dev/null || cp "$USR/x/usr/sbin/ipvsadm" "$r/usr/sbin/ipvsadm"
	local lib
	for lib in libc.so.6 ld-linux-x86-64.so.2 libnl-3.so.200 libnl-genl-3.so.200 libpopt.so.0 libm.so.6 libpthread.so.0; do
		local f
		f=$(find "$USR/x" -name "$lib" | head -1)
		[ -n "$f" ] && cp -L "$f" "$r/lib/x86_64-linux-gnu/$lib"
	done
	ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$r/lib64/ld-linux-x86-64.so.2"
	cp "$USR/x/usr/sbin/keepalived" "$r/usr/sbin/keepalived"
	copy_libs "$r/usr/sbin/keepalived"
	mkdir -p "$r/usr/bin"
	cp "$USR/x/usr/bin/etcd" "$r/usr/bin/etcd"
	copy_libs "$r/usr/bin/etcd"
	cp "$USR/x/usr/sbin/conntrack" "$r/usr/sbin/conntrack"
	copy_libs "$r/usr/sbin/conntrack"
	cp "$USR/x/usr/sbin/xtables-legacy-multi" "$r/usr/sbin/"
	ln -sf xtables-legacy-multi "$r/usr/sbin/iptables"
	copy_libs "$r/usr/sbin/xtables-legacy-multi"
	mkdir -p "$r/usr/lib/x86_64-linux-gnu/xtables"
	cp "$USR/x/usr/lib/x86_64-linux-gnu/xtables/"libxt_{standard,conntrack}.so "$r/usr/lib/x86_64-linux-gnu/xtables/"
	rm -rf "$USR/x" "$USR/debs"
	touch "$USR/done"
}

# copy_libs BINARY: copies into the guest's root every shared library the
# binary loads, as the packages' own dynamic loader resolves them, and
# fails when one is not in the packages.
copy_libs() {
	local x="$USR/x" r="$USR/root" list lib path
	list=$("$x/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu" \
		--list "$1") || die "the dynamic loader cannot list the libraries of $1: $list"
	while read -r lib path; do
		case "$lib" in linux-vdso.so.* | /lib64/ld-linux-x86-64.so.2) continue ;; esac
		case "$path" in
		"$x"/*) cp -L "$path" "$r/lib/x86_64-linux-gnu/$lib" ;;
		*) die "$1 needs $lib, found in none of the packages (at ${path:-nowhere}); add its package" ;;
		esac
	done < <(awk '$2 == "=>" {print $1, ($3 == "not" ? "" : $3)}' <<<"$list")
}

# prepare_base SUITE: the initramfs without the program, from the
# userland, the kernel's modules and /init, built once for each
# combination of the three. Sets BASE.
prepare_base() {
	local key
	key=$({ echo "$USR $MODKEY"; cat "$here/init"; declare -f prepare_base; } | cksum | cut -d' ' -f1)
	BASE="$(dirname "$MODROOT")/base-$key.cpio.gz"
	[ -s "$BASE" ] && return
	local root
	root=$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm-root.XXXXXX")
	mkdir -p "$root"/{proc,sys,dev,tmp,run,etc,vmtest}
	cp -a "$USR/root/." "$MODROOT/." "$root/"
	ln -sf ../bin/busybox "$root/sbin/modprobe"
	cp "$here/init" "$root/init" && chmod 755 "$root/init"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	echo '127.0.0.1 localhost' >"$root/etc/hosts"
	# The archive must end on a 512-byte boundary, so that the uncompressed
	# archive appended per run starts aligned.
	(cd "$root" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$BASE.tmp"
	rm -rf "$root"
	local size pad
	size=$(stat -c %s "$BASE.tmp")
	pad=$(((512 - size % 512) % 512))
	head -c "$pad" /dev/zero >>"$BASE.tmp"
	mv "$BASE.tmp" "$BASE"
	# The state names the newest base too, for the runners of branches not
	# yet rebased that share this cache: they boot it as it is.
	printf 'BASE=%q\n' "$BASE" >>"$CACHE/state-$1"
}

# module_file MODDIR NAME: the path of a module, compressed or not.
module_file() {
	local n=${2//-/_}
	grep -m1 -E "/${n//_/[-_]}\.ko(\.xz|\.zst)?$" "$1/.index" || true
}

# build_modules MODDIR ROOT: the closure of MODULES under their
# dependencies, under ROOT/lib/modules, decompressed, since busybox's
# modprobe reads only plain .ko files, with their modules.dep.
build_modules() {
	local moddir=$1 root=$2
	rm -rf "$root" && mkdir -p "$root/vmtest"
	(cd "$moddir" && find kernel -name '*.ko*') >"$moddir/.index"
	local dst="$root/lib/modules/$KVER"
	mkdir -p "$dst"
	local queue=($MODULES) seen=" " m f deps
	while [ ${#queue[@]} -gt 0 ]; do
		m=${queue[0]} queue=("${queue[@]:1}")
		case "$seen" in *" $m "*) continue ;; esac
		seen="$seen$m "
		f=$(module_file "$moddir" "$m")
		[ -n "$f" ] || continue # built in, or not built
		local plain="$dst/${f%.xz}"
		plain=${plain%.zst}
		mkdir -p "$(dirname "$plain")"
		case "$f" in
		*.xz) xz -dc "$moddir/$f" >"$plain" ;;
		*.zst) zstd -dcq "$moddir/$f" >"$plain" ;;
		*) cp "$moddir/$f" "$plain" ;;
		esac
		deps=$(tr '\0' '\n' <"$plain" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
		queue+=($deps)
	done
	cp "$moddir"/modules.builtin* "$dst/" 2>/dev/null || true
	"$USR/root/bin/busybox" depmod -b "$root" "$KVER"
	echo "$MODULES" | tr -s ' \n' '\n\n' | grep . >"$root/vmtest/modules"
}

# --- running -----------------------------------------------------------------

accel() {
	case "${VM_ACCEL:-}" in
	kvm | tcg) echo "$VM_ACCEL" ;;
	*)
		# /dev/kvm alone is not enough: some hosts' KVM (PVM) hangs stock guests.
		if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
			echo kvm
		else
			echo tcg
		fi
		;;
	esac
}

# run_one SUITE ARGS...: boots the suite's kernel with the program; returns
# its status. A VM that dies before the program starts (the emulator can
# oops a guest while it boots) is booted again, up to VM_BOOT_ATTEMPTS
# times in all; one that dies after is never, since the program may have
# caused it.
run_one() {
	local suite=$1 work
	shift
	work=$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" RETURN
	mkdir -p "$work/p/vmtest/work"
	cp "$prog" "$work/p/vmtest/prog"
	local a
	for a in "$@"; do printf '%q ' "$a"; done >"$work/p/vmtest/args"
	if [ -d testdata ]; then cp -r testdata "$work/p/vmtest/work/"; fi
	local f
	for f in ${VM_FILES:-}; do cp "$f" "$work/p/vmtest/work/"; done
	local attempt=1 rc
	while :; do
		rc=0
		boot_once "$suite" "$work" "$attempt" || rc=$?
		[ "$rc" = 125 ] && ! grep -q '^VMTEST_START' "$work/out" && [ "$attempt" -lt "$VM_BOOT_ATTEMPTS" ] || break
		attempt=$((attempt + 1))
		log "$suite: the VM died before the program started; booting it again (attempt $attempt of $VM_BOOT_ATTEMPTS)"
	done
	return "$rc"
}

# boot_once SUITE WORK ATTEMPT: one boot of the payload prepared in WORK.
boot_once() {
	local suite=$1 work=$2 attempt=$3
	: >"$work/p/vmtest/env"
	local v
	for v in ${VM_ENV:-} VM_NO_IPVS VM_WITHOUT_MODULES VM_DIE_BEFORE_START; do
		[ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}" >>"$work/p/vmtest/env"
	done
	echo "export VM_SUITE=$suite VM_KVER=$KVER VM_ATTEMPT=$attempt" >>"$work/p/vmtest/env"
	(cd "$work/p" && find . | "$USR/root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$work/payload.cpio"
	cat "$BASE" "$work/payload.cpio" >"$work/initrd"
	: >"$work/out" && : >"$work/console"
	local mode cpu
	mode=$(accel)
	cpu=qemu64
	[ "$mode" = kvm ] && cpu=host
	timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
		-machine pc -accel "$mode" -cpu "$cpu" -smp 2 -m "$VM_MEMORY" \
		-kernel "$VMLINUZ" -initrd "$work/initrd" \
		-append 'console=ttyS0 quiet panic=-1 oops=panic' \
		-serial "file:$work/console" -serial "file:$work/out" >"$work/qemu.log" 2>&1 &
	local qpid=$!
	# A boot that hangs is killed early, to be booted again, rather than
	# after VM_TIMEOUT.
	(
		for _ in $(seq "$VM_BOOT_TIMEOUT"); do
			grep -q '^VMTEST_START' "$work/out" 2>/dev/null && exit 0
			kill -0 $qpid 2>/dev/null || exit 0
			sleep 1
		done
		log "$suite: the program did not start within ${VM_BOOT_TIMEOUT}s of booting; stopping the VM"
		kill $qpid 2>/dev/null
	) &
	local watch=$!
	# Stream the program's output as it comes, without the runner's markers.
	tail -n +1 -f --pid=$qpid "$work/out" | grep --line-buffered -v '^VMTEST_\(EXIT=\|START$\)' | tee -a "$summary" || true
	local qrc=0
	wait $qpid || qrc=$?
	kill $watch 2>/dev/null || true
	wait $watch 2>/dev/null || true
	local rc
	rc=$(sed -n 's/^VMTEST_EXIT=\([0-9]*\).*/\1/p' "$work/out" | tail -1)
	if [ -z "$rc" ] || [ -n "${VM_VERBOSE:-}" ]; then
		if [ -z "$rc" ]; then
			echo "=== VM FAILURE ($suite, kernel $KVER, attempt $attempt): no exit code came back (qemu status $qrc$([ $qrc = 124 ] && echo ', timed out after '"$VM_TIMEOUT"'s'))$(grep -q '^VMTEST_START' "$work/out" || echo ', before the program started')" >&2
			cat "$work/qemu.log" >&2
		fi
		echo "=== console of $suite ($KVER):" >&2
		tail -n 80 "$work/console" >&2
		[ -n "$rc" ] || return 125
	fi
	return "$rc"
}

need_tools
mkdir -p "$CACHE"
status=0
summary=$(mktemp "${TMPDIR:-/tmp}/ipvs-vm-summary.XXXXXX")
# shellcheck disable=SC2317
finish() {
	local rc=$?
	rm -f "$summary"
	if [ -n "$quietlog" ]; then
		[ "$rc" = 0 ] || cat "$quietlog" >&3
		rm -f "$quietlog"
	fi
}
trap finish EXIT
for suite in $KERNELS; do
	# The cache is shared between runs; building it is serialized.
	exec 9>"$CACHE/lock"
	flock 9
	prepare_userland
	prepare_kernel "$suite"
	prepare_base "$suite"
	flock -u 9
	start=$(date +%s%N)
	say "=== kernel $suite ($KVER)"
	rc=0
	run_one "$suite" "$@" || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	say "$(printf '=== kernel %s (%s): exit %d in %d.%03ds' "$suite" "$KVER" "$rc" $((ms / 1000)) $((ms % 1000)))"
	[ "$status" != 0 ] || status=$rc
	[ "$rc" != 125 ] || echo "--- FAIL: the VM of $suite" >>"$summary"
done
# Go tests' top-level results over all kernels, in the plain form CI reads.
passed=$(grep -c '^--- PASS' "$summary" || true)
failed=$(grep -c '^--- FAIL' "$summary" || true)
skipped=$(grep -c '^--- SKIP' "$summary" || true)
say "vm: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || [ "$status" != 0 ] || status=1
exit "$status"
