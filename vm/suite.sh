#!/bin/busybox sh
# Runs, in the guest, every Go test binary that vm/run.sh copied into the
# working directory (VM_FILES: build/*.integration.test), one after the
# other, with the arguments given to this script. The status is the first
# failing binary's; every binary still runs.
status=0
for t in ./*.integration.test; do
	[ -x "$t" ] || continue
	echo "=== binary ${t#./}"
	"$t" "$@" || { rc=$?; [ "$status" != 0 ] || status=$rc; }
done
exit "$status"
