#!/usr/bin/env python3
"""Compares the tensors of two safetensors files (Strata checkpoints), with numpy only.

    Scripts/compare_weights.py A.safetensors B.safetensors [--tolerance 1e-6] [--prefix optimizer/]

Prints the largest absolute difference over the model's tensors (keys not starting with
"optimizer/" unless --all) and whether the files are bitwise equal there; exits 1 when the keys
differ or a difference exceeds --tolerance (default 0: bitwise).
"""
import argparse, json, struct, sys
import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def load(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[key] = np.frombuffer(data[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--tolerance", type=float, default=0.0)
    p.add_argument("--all", action="store_true", help="also the optimizer state")
    args = p.parse_args()
    a, b = load(args.a), load(args.b)
    keep = lambda k: args.all or not k.startswith("optimizer/")
    ka, kb = sorted(filter(keep, a)), sorted(filter(keep, b))
    if ka != kb:
        print(f"different keys: only in A {sorted(set(ka) - set(kb))[:5]}, only in B {sorted(set(kb) - set(ka))[:5]}")
        return 1
    worst, worst_key, bitwise, elements = 0.0, None, True, 0
    for k in ka:
        if a[k].shape != b[k].shape:
            print(f"{k}: shape {a[k].shape} vs {b[k].shape}")
            return 1
        elements += a[k].size
        if a[k].tobytes() != b[k].tobytes():
            bitwise = False
        d = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0
        if d > worst:
            worst, worst_key = d, k
    ok = worst <= args.tolerance
    print(f"{len(ka)} tensors, {elements} values: {'bitwise equal' if bitwise else f'max |a - b| = {worst:.3e} ({worst_key})'}"
          f" -> {'OK' if ok else 'FAIL'} (tolerance {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
