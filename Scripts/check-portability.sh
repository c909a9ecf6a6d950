#!/usr/bin/env bash
# Portability guard (CI runs it): Linux-only code stays in Sources/StrataTensor/Platform/Platform.swift.
#   - no module-qualified C calls (Glibc.write, Darwin.close) and no /proc paths, MADV_* hints or
#     ru_maxrss (KiB on Linux, bytes on Darwin) outside that file;
#   - every `import Glibc` sits in `#if canImport(Glibc)` with an `import Darwin` alternative.
# It cannot compile for Darwin (no SDK here); it keeps the code from drifting further from it.
set -euo pipefail
cd "$(dirname "$0")/.."
platform_file=Sources/StrataTensor/Platform/Platform.swift
status=0
offending=$(grep -rnE 'Glibc\.|Darwin\.|"/proc|MADV_|ru_maxrss' Sources --include='*.swift' | grep -v "^$platform_file:" || true)
if [ -n "$offending" ]; then
  echo "check-portability: platform-specific calls outside $platform_file (use Platform.*):"
  echo "$offending"
  status=1
fi
for f in $(grep -rl '^import Glibc' Sources --include='*.swift'); do
  if ! grep -B1 '^import Glibc' "$f" | head -1 | grep -q '^#if canImport(Glibc)'; then
    echo "check-portability: $f imports Glibc outside '#if canImport(Glibc)'"; status=1
  fi
  if ! grep -q '^import Darwin' "$f"; then
    echo "check-portability: $f imports Glibc with no '#elseif canImport(Darwin) / import Darwin' alternative"; status=1
  fi
done
[ $status -eq 0 ] && echo "check-portability: ok"
exit $status
