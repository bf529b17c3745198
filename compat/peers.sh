#!/bin/busybox sh
# Runs, in the guest, each peer test suite that compat/peertest built
# (VM_FILES: build/*.peer.test, their *.testdata.tar, and
# compat/peer-exceptions.txt), in a directory of its own holding its test
# data, with the arguments given to this script. The tests the exceptions
# list names are left out of that run and run apart, where each must
# fail: its output is shown indented, so that the runner does not count
# it, and one that passes fails the run, for the list to be brought up to
# date.
status=0
list=peer-exceptions.txt
for t in ./*.peer.test; do
	b=${t#./}
	d=${b%.test}.d
	mkdir -p "$d"
	[ -f "$b.testdata.tar" ] && (cd "$d" && tar xf "../$b.testdata.tar")
	listed=$(awk -F'\t' -v b="$b" '$1 == b { printf "%s%s", sep, $2; sep = "|" }' "$list")
	echo "=== peer suite $b"
	if [ -n "$listed" ]; then
		(cd "$d" && "../$b" -test.v -test.skip "^($listed)\$" "$@") || status=1
		echo "=== peer suite $b: the tests $list lists, which must fail"
		out=$(cd "$d" && "../$b" -test.v -test.count=1 -test.run "^($listed)\$" 2>&1)
		echo "$out" | sed 's/^/    /'
		for name in $(echo "$listed" | tr '|' ' '); do
			if echo "$out" | grep -q "^--- FAIL: $name "; then
				echo "listed: $name fails, as $list says: $(awk -F'\t' -v b="$b" -v n="$name" '$1 == b && $2 == n { print $3 }' "$list")"
			else
				echo "--- FAIL: $name ($b) did not fail, and $list lists it: bring the list up to date"
				status=1
			fi
		done
	else
		(cd "$d" && "../$b" -test.v "$@") || status=1
	fi
done
exit "$status"
