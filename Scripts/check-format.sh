#!/usr/bin/env bash
# Lints Swift files with swift-format (the toolchain's `swift format`, 6.x) and the committed
# .swift-format configuration (4 spaces, 120 columns; lowerCamelCase and one-case-per-line are off:
# some names mirror fixture JSON keys and C symbols). The whole tree (Sources, Tests, Fuzz,
# Package.swift) is formatted; without arguments the check covers all of it, with arguments the
# files given. --fix formats them in place first. Exits 1 on any finding, 2 when swift-format is missing.
# Usage: Scripts/check-format.sh [--fix] [FILE.swift …]
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
if [[ "${1:-}" == "--fix" ]]; then fix=1; shift; fi
if ! swift format --version >/dev/null 2>&1; then
    echo "check-format: 'swift format' is not available (Swift 6 toolchains ship it); nothing checked" >&2
    exit 2
fi
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
    mapfile -t files < <(find Sources Tests Fuzz -name '*.swift' -not -path '*/.build/*' | sort; echo Package.swift)
fi
for f in "${files[@]}"; do
    [[ -f "$f" ]] || { echo "check-format: $f: no such file" >&2; exit 1; }
done
if [[ $fix -eq 1 ]]; then swift format format --in-place --configuration .swift-format "${files[@]}"; fi
if swift format lint --strict --configuration .swift-format "${files[@]}"; then
    echo "check-format: ${#files[@]} files formatted as .swift-format says"
else
    echo "check-format: findings above (fix with Scripts/check-format.sh --fix FILE…)" >&2
    exit 1
fi
