#!/usr/bin/env bash
# The runner's own test: a boot that dies before the program starts is
# booted again, and logged; one that dies after it started is not; a
# program's own status comes back unchanged. It boots one kernel
# (SELFTEST_KERNEL, default bookworm) six times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernel=${SELFTEST_KERNEL:-bookworm}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vm-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "--- FAIL: vm selftest: $*"; fails=$((fails + 1)); }

# run NAME EXPECTED_STATUS PROGRAM [ENV...]: runs the program under the
# runner with the environment given, and checks its status.
run() {
	local name=$1 want=$2 prog=$3
	shift 3
	local rc=0
	env KERNELS="$kernel" "$@" bash "$here/run.sh" "$prog" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name: status $rc, want $want"
		sed 's/^/    /' "$tmp/$name.out" "$tmp/$name.err" | tail -40
		return 1
	fi
}

printf '#!/bin/sh\necho "started on attempt $VM_ATTEMPT"\nexit 7\n' >"$tmp/prog"
printf '#!/bin/sh\necho "about to crash"\necho c >/proc/sysrq-trigger\nsleep 60\n' >"$tmp/crash"
chmod +x "$tmp/prog" "$tmp/crash"

# One boot dies before the start: the second boot runs the program, whose
# status comes back, and the retry is logged.
if run retried 7 "$tmp/prog" VM_DIE_BEFORE_START=1; then
	grep -q '^started on attempt 2$' "$tmp/retried.out" || fail "retried: the program did not run on the second boot"
	grep -q 'died before the program started; booting it again (attempt 2 of 3)' "$tmp/retried.err" ||
		fail "retried: the retry was not logged"
	grep -q '^vm: ' "$tmp/retried.out" || fail "retried: no summary line"
fi
# Every boot dies before the start: the runner gives up after the attempts
# it was given, as a failure of the VM.
if run exhausted 125 "$tmp/prog" VM_DIE_BEFORE_START=9 VM_BOOT_ATTEMPTS=2; then
	[ "$(grep -c 'booting it again' "$tmp/exhausted.err")" = 1 ] || fail "exhausted: want exactly one retry logged"
	grep -q 'before the program started' "$tmp/exhausted.err" || fail "exhausted: the failure does not say when the VM died"
fi
# A VM that dies once the program has started is never booted again.
if run crashed 125 "$tmp/crash"; then
	[ "$(grep -c '^about to crash$' "$tmp/crashed.out")" = 1 ] || fail "crashed: the program ran more than once, or not at all"
	! grep -q 'booting it again' "$tmp/crashed.err" || fail "crashed: a VM that died after the start was booted again"
fi
[ "$fails" = 0 ] && echo "--- PASS: vm selftest (retry before start, give up, no retry after start)"
exit "$fails"
