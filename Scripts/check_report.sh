#!/usr/bin/env bash
# Render a run's report.html in headless Chromium: a screenshot to look at, and a DOM check
# that the plots, the confusion matrix and the configuration are there after the browser
# parsed the page. For an experiment's run directory (it has verdict.json): the verdict, every
# claim, the embedded figures (each decoded by the browser: its natural width is read back)
# and the links to the arms' reports.
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
if [[ -f "$run/verdict.json" ]]; then
  needles=('id="verdict"' 'id="findings"' '<figure id="figure-0"' '<img src="data:image/png;base64,')
  # Every claim of verdict.json is in the page.
  while IFS= read -r claim; do needles+=("$claim"); done < <(python3 -c '
import json, sys, html
for f in json.load(open(sys.argv[1]))["findings"]: print(html.escape(f["claim"], quote=False))' "$run/verdict.json")
else
  needles=('id="plot-loss"' 'id="plot-accuracy"' 'id="plot-learning-rate"' '<polyline' 'Confusion matrix' 'Per-class accuracy' 'Configuration' 'learning_rate')
fi
# Every embedded figure decodes: the page has no script, so a copy with one reports each image's
# natural size after the browser loaded it.
probe="$(mktemp --suffix=.html)"
sed 's#</body></html>#<script>window.onload=()=>{for(const i of document.images){const p=document.createElement("p");p.className="decoded";p.textContent="decoded "+i.naturalWidth+"x"+i.naturalHeight;document.body.appendChild(p)}}</script></body></html>#' "$report" >"$probe"
decoded="$("$browser" "${flags[@]}" --virtual-time-budget=3000 --dump-dom "file://$probe" 2>/dev/null | grep -o 'decoded [0-9]*x[0-9]*' || true)"
rm -f "$probe"
images="$(grep -o '<img src="data:image/png' "$report" | wc -l || true)"
if [[ "$(grep -c 'decoded [1-9]' <<<"$decoded")" != "$images" ]]; then
  echo "of $images embedded images the browser decoded: ${decoded:-none}" >&2; fail=1
fi
for needle in "${needles[@]}"; do
  if ! grep -qF -- "$needle" <<<"$dom"; then echo "missing in rendered DOM: $needle" >&2; fail=1; fi
done
svgs="$(grep -o '<svg' <<<"$dom" | wc -l || true)"
echo "rendered $report: $svgs inline SVGs${decoded:+, images: $(tr '\n' ' ' <<<"$decoded")}, screenshot $png ($(stat -c %s "$png") bytes)"
exit $fail
