#!/usr/bin/env python3
"""Per-layer profile of a `strata bench` case: the time of every oneDNN primitive, by layer.

Runs the case once in this process tree with DNNL_VERBOSE=1 (oneDNN prints one line per executed
primitive: kind, implementation, layouts, problem size, milliseconds) and sums the lines by
(primitive kind, propagation, problem), so a layer's forward, backward-data and backward-weights
convolutions show as separate rows. Iterations are told apart by the network's first convolution
(the stem, whose problem size occurs once per pass); the warm-up iteration (primitive creation,
first touch of memory) is left out and the others averaged. The rest of the step (Swift code,
the optimizer) is the difference between the bench's ms/batch and the primitives' total.

    python3 Benchmarks/layer_profile.py resnet20 training 128
    python3 Benchmarks/layer_profile.py densenet121 inference 1 --top 30
"""
import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("mode", choices=["inference", "training"])
    ap.add_argument("batch", type=int)
    ap.add_argument("--iterations", type=int, default=3, help="timed iterations (default 3; one warm-up is added)")
    ap.add_argument("--top", type=int, default=25, help="rows to print (default 25)")
    ap.add_argument("--strata", default=os.path.join(ROOT, ".build", "release", "strata"))
    a = ap.parse_args()
    if not os.path.exists(a.strata):
        sys.exit(f"{a.strata} not found: run `swift build -c release` first")

    env = dict(os.environ, DNNL_VERBOSE="1")

    cmd = [a.strata, "bench", "--model", a.model, "--mode", a.mode, "--batch", str(a.batch),
           "--iterations", str(a.iterations), "--in-process", "--json"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    bench, execs = None, []
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            bench = json.loads(line)
        elif line.startswith("onednn_verbose,exec,cpu,"):
            f = line.split(",")
            execs.append(((f[3], f[5], f[-2]), float(f[-1])))   # (kind, propagation, problem), ms
    stem = next((k for k, _ in execs if k[0] == "convolution" and k[1].startswith("forward")), None)
    starts = [i for i, (k, _) in enumerate(execs) if k == stem]
    if len(starts) < 2:
        sys.exit("could not tell the iterations apart (no repeated first convolution)")
    # Each iteration runs from one stem convolution to the next; the first one (warm-up) is left out.
    timed = execs[starts[1]:]
    iterations = len(starts) - 1
    rows = collections.defaultdict(lambda: [0.0, 0])
    kinds = collections.defaultdict(float)
    for key, ms in timed:
        rows[key][0] += ms
        rows[key][1] += 1
        kinds[key[0]] += ms
    total = sum(kinds.values()) / iterations
    step = bench["ms_per_batch"] if bench else float("nan")
    print(f"{a.model} {a.mode} batch {a.batch}: {step:.1f} ms per step (bench median), "
          f"{total:.1f} ms in oneDNN primitives per iteration ({100 * total / step:.0f}%)\n")
    print("| primitive | propagation | problem | ms/iteration | share of step | calls/iteration |")
    print("|---|---|---|---:|---:|---:|")
    for (kind, prop, problem), (ms, n) in sorted(rows.items(), key=lambda kv: -kv[1][0])[:a.top]:
        print(f"| {kind} | {prop} | `{problem}` | {ms / iterations:.2f} | {100 * ms / iterations / step:.1f}% | {n / iterations:g} |")
    print("\n| primitive kind | ms/iteration | share of step |")
    print("|---|---:|---:|")
    for kind, ms in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {ms / iterations:.1f} | {100 * ms / iterations / step:.1f}% |")
    print(f"| (outside oneDNN primitives) | {step - total:.1f} | {100 * (step - total) / step:.1f}% |")


if __name__ == "__main__":
    main()
