#!/usr/bin/env bash
# A real full disk while checkpointing (needs root, for a tiny tmpfs): `strata train` must stop
# with a clear error, the previous checkpoint must stay intact and loadable, no temporary file
# may be left behind, and the run must resume once there is space again.
#
#   sudo Scripts/check_full_disk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product strata >/dev/null
strata=.build/release/strata

fs="$(mktemp -d /tmp/strata-fullfs.XXXXXX)"
moved="$(mktemp -d /tmp/strata-fullfs-moved.XXXXXX)"
cleanup() { umount "$fs" 2>/dev/null || true; rmdir "$fs" 2>/dev/null || true; rm -rf "$moved"; }
trap cleanup EXIT
# Room for epoch 1's files (~780 KB) but not for epoch 2's new last.safetensors (~500 KB) next to them.
mount -t tmpfs -o size=1100k tmpfs "$fs"

set +e
"$strata" train --quiet --out "$fs/run" 2>"$moved/stderr"
status=$?
set -e
cat "$moved/stderr"
[[ $status -ne 0 ]] || { echo "FAIL: training did not stop on a full disk" >&2; exit 1; }
grep -q "No space left on device" "$moved/stderr" || { echo "FAIL: the error does not say the disk is full" >&2; exit 1; }
grep -q "previous checkpoint is intact" "$moved/stderr" || { echo "FAIL: the error does not name the intact checkpoint" >&2; exit 1; }
if ls -a "$fs/run" | grep -q '\.tmp-'; then echo "FAIL: temporary file left behind" >&2; exit 1; fi
grep -q '"epoch": 1,' "$fs/run/last.json" || { echo "FAIL: last.json is not epoch 1's" >&2; exit 1; }

# Space again: the run resumes from the intact checkpoint and finishes.
cp -r "$fs/run" "$moved/run"
"$strata" train --quiet --resume "$moved/run"
echo "OK: full disk reported, previous checkpoint intact, run resumed"
