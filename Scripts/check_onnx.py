#!/usr/bin/env python3
"""Checks `strata export` against ONNX Runtime: for each model, the ONNX file passes
onnx.checker and ONNX Runtime's logits match `strata infer`'s on the same input.

    Benchmarks/.venv/bin/python Scripts/check_onnx.py [--strata .build/release/strata] [MODEL ...]

Weights: deterministic and made by strata itself. `strata export --random-weights 0 --save-weights`
writes the model's seeded initialization as safetensors; this script then gives every batch norm
non-trivial statistics and affine parameters (NumPy, seed 0: running_mean ~ N(0, 0.1²),
running_var ~ U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1²)), so that the exported
BatchNormalization is really exercised, and writes the file back. Both `strata export --weights`
(dynamic batch) and `strata infer --weights` then read that file. The input is N(0, 1), batch 2,
at the model's own size, saved as .npy.

Error: max |ONNX Runtime − strata| / max |strata logit|, which must be ≤ 1e-4.
Prints a table, exits 1 when any model fails.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

DEFAULT_MODELS = ["lenet5", "resnet20", "resnet56_b", "densenet_bc_100", "alexnet2012", "alexnet_bn", "vgg16", "vgg11_bn",
                  "googlenet", "inception_v3", "resnet50", "densenet121", "inception_v4", "inception_resnet_v2"]
TOLERANCE = 1e-4


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", None)
    return header, data, metadata


def write_safetensors(path, header, data, metadata):
    full = dict(header)
    if metadata is not None:
        full["__metadata__"] = metadata
    text = json.dumps(full, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


def perturb_batch_norm(path, seed=0):
    """Gives every batch norm (a key prefix with running_mean) non-trivial statistics, in place."""
    header, data, metadata = read_safetensors(path)
    data = bytearray(data)
    rng = np.random.default_rng(seed)
    prefixes = sorted(k[: -len("running_mean")] for k in header if k.endswith("running_mean"))
    draws = {"running_mean": lambda n: rng.normal(0, 0.1, n), "running_var": lambda n: rng.uniform(0.5, 2.0, n),
             "weight": lambda n: rng.uniform(0.5, 1.5, n), "bias": lambda n: rng.normal(0, 0.1, n)}
    for prefix in prefixes:
        for name, draw in draws.items():
            info = header.get(prefix + name)
            if info is None:
                continue
            assert info["dtype"] == "F32", (prefix + name, info["dtype"])
            start, end = info["data_offsets"]
            data[start:end] = draw((end - start) // 4).astype("<f4").tobytes()
    write_safetensors(path, header, bytes(data), metadata)
    return len(prefixes)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def input_shape(strata, model):
    out = run([strata, "summary", model, "--json"])
    return json.loads(out)["input"][1:]


def check(strata, model, work, batch):
    d = os.path.join(work, model)
    os.makedirs(d, exist_ok=True)
    weights, onnx_path = os.path.join(d, "weights.safetensors"), os.path.join(d, f"{model}.onnx")
    run([strata, "export", "--model", model, "--random-weights", "0", "--save-weights", weights,
         "--output", os.path.join(d, "init.onnx")])
    os.remove(os.path.join(d, "init.onnx"))
    norms = perturb_batch_norm(weights)
    t = time.time()
    run([strata, "export", "--model", model, "--weights", weights, "--output", onnx_path, "--batch", "dynamic"])
    export_s = time.time() - t
    onnx.checker.check_model(onnx_path)
    proto = onnx.load(onnx_path, load_external_data=False)
    opset = proto.opset_import[0].version

    shape = input_shape(strata, model)
    x = np.random.default_rng(1).standard_normal([batch] + shape).astype(np.float32)
    x_path, y_path = os.path.join(d, "x.npy"), os.path.join(d, "logits.npy")
    np.save(x_path, x)
    run([strata, "infer", "--model", model, "--weights", weights, "--input", x_path, "--output", y_path])
    expected = np.load(y_path)

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": x})
    assert got.shape == expected.shape, (got.shape, expected.shape)
    error = float(np.max(np.abs(got.astype(np.float64) - expected)) / np.max(np.abs(expected)))
    size = os.path.getsize(onnx_path)
    return dict(model=model, input="×".join(map(str, [batch] + shape)), nodes=len(proto.graph.node),
                initializers=len(proto.graph.initializer), norms=norms, opset=opset, mb=size / 1e6,
                export_s=export_s, max_logit=float(np.max(np.abs(expected))), error=error)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    release, debug = os.path.join(root, ".build/release/strata"), os.path.join(root, ".build/debug/strata")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--strata", default=release if os.path.exists(release) else debug, help="the strata executable")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--work", help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    print(f"strata: {args.strata}; onnx {onnx.__version__}, onnxruntime {ort.__version__}", flush=True)

    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        for model in args.models:
            try:
                r = check(args.strata, model, work, args.batch)
                rows.append(r)
                ok = r["error"] <= TOLERANCE
                if not ok:
                    failed.append(model)
                print(f"{model}: max rel error {r['error']:.2e} {'ok' if ok else 'FAIL'}", flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on with the next model
                failed.append(model)
                print(f"{model}: FAIL {e}", flush=True)

    print()
    print("| model | input | opset | nodes | initializers | BN layers | ONNX size | max abs logit | max rel error |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['model']}` | {r['input']} | {r['opset']} | {r['nodes']} | {r['initializers']} | {r['norms']} | "
              f"{r['mb']:.1f} MB | {r['max_logit']:.3g} | {r['error']:.1e} |")
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (tolerance {TOLERANCE:g})")
        return 1
    print(f"\nall {len(rows)} models within {TOLERANCE:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
