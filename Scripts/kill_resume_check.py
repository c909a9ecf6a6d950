#!/usr/bin/env python3
"""Kill -9 a training run at random moments, resume it each time, and check the end result.

    python3 Scripts/kill_resume_check.py [--kills 50] [--strata .build/release/strata] [--seed 1]

1. An uninterrupted reference run: `strata train --model lenet5 --epochs E --out REF` (the built-in
   synthetic dataset, no files needed).
2. The same run, SIGKILLed after a random delay, again and again: each time it is resumed with
   `strata train --resume RUN` (or started afresh when it died before its first checkpoint), until
   it has been killed --kills times and then allowed to finish. Some kills land while a checkpoint
   is being written.
3. Checks: every resume loaded the checkpoint it found (a damaged one fails its CRC-32C check and the
   resume exits non-zero), the final weights and optimizer state equal the reference run's bit for bit,
   and no temporary file is left in the run directory.

Exit status 0 when every check passes; the last line says how many kills were survived.
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tensors(path):
    """name -> (dtype, shape, raw bytes) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[8 + n + begin:8 + n + end])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--strata", default=os.path.join(ROOT, ".build", "release", "strata"))
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill delays")
    ap.add_argument("--max-delay", type=float, default=4.0, help="longest time a run lives before its kill (s)")
    a = ap.parse_args()
    if not os.path.exists(a.strata):
        sys.exit(f"{a.strata} not found: run `swift build -c release` first")
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="strata-kill-")
    ref, run = os.path.join(work, "ref"), os.path.join(work, "run")
    common = ["--model", "lenet5", "--epochs", str(a.epochs), "--seed", "0", "--quiet"]
    env = dict(os.environ, STRATA_NUM_THREADS="2")

    t0 = time.time()
    subprocess.run([a.strata, "train", *common, "--out", ref], check=True, env=env, stdout=subprocess.DEVNULL)
    reference_seconds = time.time() - t0
    print(f"reference run: {reference_seconds:.1f} s")

    kills, starts, resumes, failures = 0, 0, 0, []
    while True:
        has_checkpoint = os.path.exists(os.path.join(run, "last.safetensors"))
        cmd = [a.strata, "train", "--resume", run] if has_checkpoint else [a.strata, "train", *common, "--out", run]
        if has_checkpoint:
            resumes += 1
        else:
            starts += 1
            shutil.rmtree(run, ignore_errors=True)
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < a.kills:
            delay = rng.uniform(0.05, a.max_delay)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                continue
        else:
            p.wait()
        err = p.stderr.read().decode(errors="replace")
        if p.returncode != 0:
            failures.append(f"{' '.join(cmd[1:3])} exited {p.returncode}: {err.strip()[:300]}")
            if len(failures) > 5:
                break
            continue
        if kills >= a.kills:
            break
        # Finished before the kills were used up: start over with a fresh run directory.
        shutil.rmtree(run, ignore_errors=True)

    final, expected = tensors(os.path.join(run, "last.safetensors")), tensors(os.path.join(ref, "last.safetensors"))
    if set(final) != set(expected):
        failures.append(f"tensor names differ: {sorted(set(final) ^ set(expected))[:5]}")
    differing = [k for k in expected if k in final and final[k] != expected[k]]
    if differing:
        failures.append(f"{len(differing)} tensors differ from the uninterrupted run, e.g. {differing[:3]}")
    leftovers = [f for f in os.listdir(run) if ".tmp-" in f]
    if leftovers:
        failures.append(f"temporary files left: {leftovers}")
    for f in failures:
        print("FAIL:", f)
    print(f"{kills} kills (SIGKILL after 0.05–{a.max_delay} s), {resumes} resumes, {starts} fresh starts; "
          f"final weights and optimizer state {'equal' if not differing else 'NOT equal'} to the uninterrupted run's "
          f"({len(expected)} tensors, bit for bit); work dir {work}")
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
