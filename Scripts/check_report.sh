#!/usr/bin/env bash
# Render a run's report.html in headless Chromium: a screenshot to look at, and a DOM check
# that the plots, the confusion matrix and the configuration are there after the browser
# parsed the page.
#
#   apt-get install -y chromium
#   Scripts/check_report.sh RUN_DIR [SCREENSHOT.png]     # default screenshot: /tmp/strata-report.png
#   Scripts/check_report.sh                              # trains a 2-epoch default run first (release build)
set -euo pipefail
cd "$(dirname "$0")/.."

run="${1:-}"
png="${2:-/tmp/strata-report.png}"
if [[ -z "$run" ]]; then
  run="$(mktemp -d /tmp/strata-report-run.XXXXXX)"
  swift build -c release --product strata >/dev/null
  .build/release/strata train --epochs 2 --quiet --out "$run"
fi
report="$(cd "$run" && pwd)/report.html"
[[ -f "$report" ]] || { echo "no report.html in $run" >&2; exit 1; }

browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[[ -n "$browser" ]] || { echo "Chromium not found (apt-get install -y chromium)" >&2; exit 1; }
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars)

rm -f "$png"
"$browser" "${flags[@]}" --screenshot="$png" --window-size=1200,1600 "file://$report" 2>/dev/null
[[ -s "$png" ]] || { echo "no screenshot written" >&2; exit 1; }

dom="$("$browser" "${flags[@]}" --dump-dom "file://$report" 2>/dev/null)"
fail=0
for needle in 'id="plot-loss"' 'id="plot-accuracy"' 'id="plot-learning-rate"' '<polyline' 'Confusion matrix' 'Per-class accuracy' 'Configuration' 'learning_rate'; do
  if ! grep -q -- "$needle" <<<"$dom"; then echo "missing in rendered DOM: $needle" >&2; fail=1; fi
done
svgs="$(grep -o '<svg' <<<"$dom" | wc -l)"
echo "rendered $report: $svgs inline SVGs, screenshot $png ($(stat -c %s "$png") bytes)"
exit $fail
