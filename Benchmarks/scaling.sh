#!/usr/bin/env bash
# Data-parallel scaling on one machine (issue 13): images/s of 2 ranks × 1 thread against 1 rank ×
# 1 thread with the same global batch, and the time rank 0 waits for the gradient allreduces per
# step with and without overlapping them with the backward (`--no-overlap`).
#
#   Benchmarks/scaling.sh [--cifar DIR] [--steps N] [CASE …]     CASE: resnet20 resnet50 vgg16
#
# resnet20: CIFAR-10 (--cifar, default ../shared/data/cifar10), global batch 128.
# resnet50: 224×224 ImageFolder made of repeated sample photos (the pixels do not matter for
#           speed), global batch 32.
# vgg16:    CIFAR-10 32×32, global batch 64 (its 134 M parameters, 512 MiB of gradients per step,
#           mostly the first fully connected layer: the case where the allreduce dominates).
# Throughput is the mean of the metrics.jsonl step windows after the first (warm-up) window.
# Needs a release build (`swift build -c release --product strata`) and mpirun; the machine should
# be otherwise idle (efficiency on a loaded machine measures the load).
set -euo pipefail
cd "$(dirname "$0")/.."
cifar=../shared/data/cifar10; steps=""; cases=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cifar) cifar="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) cases+=("$1"); shift ;;
  esac
done
[[ ${#cases[@]} -gt 0 ]] || cases=(resnet20 resnet50 vgg16)
strata=.build/release/strata
[[ -x $strata ]] || { echo "scaling: build first: swift build -c release --product strata" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "scaling: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 2; }
work=$(mktemp -d /tmp/strata-scaling.XXXXXX); trap 'rm -rf "$work"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x STRATA_NUM_THREADS)
export STRATA_NUM_THREADS=1

photo_folder() {   # DIR/{train,val}/{a,b}/*.png from the test images: 160 per class (no epoch ends
  local dir=$work/photos photos=(Tests/StrataImageTests/Fixtures/*.png) n   # inside the measured steps)
  [[ -d $dir ]] && { echo "$dir"; return; }
  for split in train val; do for c in a b; do
    mkdir -p "$dir/$split/$c"
    n=$([[ $split == train ]] && echo 160 || echo 4)
    for i in $(seq 1 "$n"); do cp "${photos[$(( i % ${#photos[@]} ))]}" "$dir/$split/$c/$i.png"; done
  done; done
  echo "$dir"
}

mean_ips() {   # mean images/s of the step windows of a run directory, the first (warm-up) dropped
  python3 - "$1/metrics.jsonl" <<'EOF'
import json, sys
v = [r["images_per_second"] for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "step"]
v = v[1:] if len(v) > 1 else v
print(f"{sum(v) / len(v):.2f}" if v else "nan")
EOF
}

printf "%-9s %6s %-26s %10s %14s\n" case batch setup "img/s" "wait ms/step"
for c in "${cases[@]}"; do
  case $c in
    resnet20) args=(--model resnet20 --dataset cifar10 --data "$cifar" --batch-size 128 --max-steps "${steps:-40}" --log-every 10) ;;
    resnet50) args=(--model resnet50 --dataset imagefolder --data "$(photo_folder)" --batch-size 32 --max-steps "${steps:-8}" --log-every 2) ;;
    vgg16) args=(--model vgg16 --dataset cifar10 --data "$cifar" --batch-size 64 --max-steps "${steps:-12}" --log-every 3) ;;
    *) echo "scaling: unknown case $c (resnet20, resnet50, vgg16)" >&2; exit 2 ;;
  esac
  batch=${args[*]}; batch=${batch#*--batch-size }; batch=${batch%% *}
  for setup in "1 rank" "2 ranks" "2 ranks, --no-overlap"; do
    out=$work/$c-${setup//[ ,-]/}
    case $setup in
      "1 rank") log=$($strata train "${args[@]}" --out "$out" --quiet --workers 1 2>&1) ;;
      "2 ranks") log=$("${mpi[@]}" -np 2 $strata train "${args[@]}" --out "$out" --quiet --workers 1 2>&1) ;;
      *) log=$("${mpi[@]}" -np 2 $strata train "${args[@]}" --out "$out" --quiet --workers 1 --no-overlap 2>&1) ;;
    esac || { echo "$log" >&2; exit 1; }
    wait=$(grep -o "allreduce wait on rank 0: [0-9.]* ms" <<<"$log" | grep -o "[0-9.]* ms" | cut -d' ' -f1 || true)
    printf "%-9s %6s %-26s %10s %14s\n" "$c" "$batch" "$setup" "$(mean_ips "$out")" "${wait:--}"
  done
done
