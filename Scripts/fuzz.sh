#!/usr/bin/env bash
# Fuzzes Strata's parsers with libFuzzer under AddressSanitizer (leaks included).
#
#   Scripts/fuzz.sh [--runs N | --seconds S] [TARGET ...]     (default: --runs 1000000, every target)
#
# Builds Fuzz/ with `-sanitize=fuzzer,address` into .build/fuzz, starts each target from its seed corpus
# (Fuzz/Corpus/TARGET) plus what earlier runs found (.build/fuzz-corpus/TARGET), and prints one line per
# target: inputs run, seconds, corpus size, and the outcome. Crashes, leaks, timeouts and allocations above
# the target's bound (-malloc_limit_mb, stated in Fuzz/Targets/FuzzTargets.swift) stop that target and
# leave the input in .build/fuzz-artifacts/TARGET/; the script then exits 1. Add such an input to
# Fuzz/Corpus/TARGET once fixed: the test suite replays that corpus (FuzzCorpusTests).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(-runs=1000000); targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) mode=(-runs="$2"); shift 2 ;;
    --seconds) mode=(-max_total_time="$2"); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
echo "building the fuzz driver (release, -sanitize=fuzzer,address) ..."
# One -sanitize flag with both sanitizers: swiftc keeps only the last -sanitize= it is given.
swift build -c release --scratch-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLIBFUZZER \
  -Xswiftc -use-ld=lld --product strata-fuzz 2>&1 | grep -E "error|warning: |Compiling|Build" | grep -v "^\[" || true
bin=.build/fuzz/release/strata-fuzz
[ -x "$bin" ] || { echo "fuzz.sh: the build failed" >&2; exit 1; }
if [ ${#targets[@]} -eq 0 ]; then read -r -a targets <<< "$(STRATA_FUZZ_TARGET=list "$bin")"; fi
failed=0
printf "%-18s %10s %8s %8s %8s  %s\n" target inputs seconds exec/s corpus outcome
for t in "${targets[@]}"; do
  corpus=.build/fuzz-corpus/$t; artifacts=.build/fuzz-artifacts/$t; log=.build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  set +e
  STRATA_FUZZ_TARGET=$t "$bin" "${mode[@]}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "Fuzz/Corpus/$t" > "$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
  secs=$(grep -o "Done [0-9]* runs in [0-9]* second" "$log" | awk '{print $5}' || true)
  outcome="ok: 0 crashes, 0 leaks, no allocation above the bound"
  if [ $status -ne 0 ]; then
    failed=1
    outcome="FAILED ($(grep -m1 -o "ERROR: [A-Za-z]*: [a-z-]*\|out-of-memory ([^)]*)\|deadly signal\|timeout" "$log" || echo "exit $status")); see $log"
  fi
  printf "%-18s %10s %8s %8s %8s  %s\n" "$t" "$runs" "${secs:-?}" \
    "$(grep -o "stat::average_exec_per_sec: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")" "$(ls "$corpus" | wc -l)" "$outcome"
done
exit $failed
