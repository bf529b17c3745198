#!/bin/busybox sh
# Runs, in the guest, every Go test binary that vm/run.sh copied into the
# working directory (VM_FILES: build/*.integration.test), one after the
# other, with the arguments given to this script. The status is the first
# failing binary's; every binary still runs.
#
# SUITE_FIRST, a -test.run pattern, names tests that must run before all
# others of their binary (such as one that reloads ip_vs, which only works
# before other tests' namespaces hold its modules); they are then skipped
# in the main run.
status=0
for t in ./*.integration.test; do
	[ -x "$t" ] || continue
	echo "=== binary ${t#./}"
	if [ -n "${SUITE_FIRST:-}" ]; then
		"$t" "$@" -test.run "$SUITE_FIRST" || { rc=$?; [ "$status" != 0 ] || status=$rc; }
		"$t" "$@" -test.skip "$SUITE_FIRST" || { rc=$?; [ "$status" != 0 ] || status=$rc; }
	else
		"$t" "$@" || { rc=$?; [ "$status" != 0 ] || status=$rc; }
	fi
done
exit "$status"
