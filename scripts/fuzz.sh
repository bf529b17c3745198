#!/usr/bin/env bash
# Runs every fuzz target of every package of the modules given, each for
# FUZZTIME, seeded from testdata. A target that finds a failing input
# fails the run. Go's fuzzing engine sometimes ends a short run with FAIL
# and no failing input (a worker that did not stop in time on a loaded
# machine); such a run is tried once more, and only a second one fails.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
for m in "$@"; do
	(
		cd "$m"
		for p in $($GO list ./...); do
			for t in $($GO test -list '^Fuzz' "$p" | grep '^Fuzz' || true); do
				for try in 1 2; do
					echo "fuzz $p $t"
					out=$(mktemp)
					if $GO test -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME" "$p" 2>&1 | tee "$out"; then
						rm -f "$out"
						break
					fi
					if grep -q 'Failing input written to' "$out" || [ "$try" = 2 ]; then
						rm -f "$out"
						echo "fuzz: $p $t failed" >&2
						exit 1
					fi
					rm -f "$out"
					echo "fuzz: $p $t ended FAIL without a failing input; once more" >&2
				done
			done
		done
	)
done
