#!/usr/bin/env bash
# Builds the DocC documentation of every library target (swift-docc-plugin) and fails on any warning:
# a broken ``symbol link`` in a doc comment or a catalog, an undocumented or misnamed parameter, ...
#
#   Scripts/check-docs.sh                      # every target, as `swift package generate-documentation` (about 4 min from clean on 2 cores, 2 min after)
#   Scripts/check-docs.sh StrataNN StrataData  # only these
#
# It builds in its own scratch path (.build-docs, or $STRATA_DOCS_SCRATCH), so it neither waits for nor
# holds the lock of .build.
# Not part of .ci/run: CI's time budget is tight; run it after changing doc comments or a .docc catalog.
# The archives land in .build-docs/plugins/Swift-DocC/outputs/<Target>.doccarchive.
set -euo pipefail
cd "$(dirname "$0")/.."

# No target named: every documentable target (libraries, executables, the dependencies' too), exactly
# what a user's `swift package generate-documentation` builds.
targets=("$@")
args=()
for t in "${targets[@]}"; do args+=(--target "$t"); done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
status=0
swift package --scratch-path "${STRATA_DOCS_SCRATCH:-.build-docs}" generate-documentation "${args[@]}" >"$log" 2>&1 || status=$?
seconds=$(( $(date +%s) - start ))

# Compiler warnings of the build are not DocC's; DocC's diagnostics start a line with "warning:" or "error:".
warnings=$(grep -cE '^(warning|error):' "$log" || true)
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
    grep -E -A8 '^(warning|error):' "$log" || tail -40 "$log"
    echo "check-docs: $warnings DocC warning(s)/error(s), exit status $status (${seconds} s; targets: ${targets[*]:-all})" >&2
    exit 1
fi
grep -E "^Finished building documentation for" "$log" || true
echo "check-docs: no warnings in ${targets[*]:-every target} (${seconds} s)"
