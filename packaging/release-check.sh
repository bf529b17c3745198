#!/usr/bin/env bash
# packaging/release-check.sh OUT: checks the artefacts release.sh made in
# OUT: the checksums, the binaries (static, for their architecture, and
# --version saying what the build recorded) and the packages' contents
# (packaging's TestRelease), and that each package for this machine
# installs into a clean Debian and runs (release-install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(cd "${1:?usage: release-check.sh OUT}" && pwd)
GO=${GO:-go}
(cd "$OUT" && sha256sum --check --quiet SHA256SUMS)
(cd packaging && RELEASE_DIR=$OUT $GO test -count=1 -run '^TestRelease$' .)
bash packaging/release-install.sh "$OUT"
