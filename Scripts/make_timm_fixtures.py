#!/usr/bin/env python3
"""Generate timm reference fixtures for Strata's timm-compatible zoo models.

Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2016) as timm builds them
(`inception_v4`, `inception_resnet_v2`), so that timm's weights load into
Strata directly. Modelled on Scripts/make_zoo_fixtures.py, whose deterministic
weights and inputs (the hash documented there and in
Tests/StrataTestSupport/HashWeights.swift), MAC counting and Float64 scheme it
imports rather than repeats.

What it makes: Tests/StrataModelsTests/Fixtures/timm.json
---------------------------------------------------------
    {"generator": "Scripts/make_timm_fixtures.py",
     "torch": ..., "timm": ...,
     "hash_check": {...},                  # as in parity.json
     "models": {NAME: {"parameters": P,    # trainable elements
                       "keys": [[KEY, [d0, d1, ...]], ...],   # state_dict order
                       "macs": M,          # conv + linear, one image, eval mode
                       "input": [C, H, W], # where M was measured (299x299)
                       "minimum_input": S}},               # smallest H = W timm takes
     "cases": [{"name": unique str, "model": NAME, "classes": num_classes,
                "heavy": bool,             # 299x299 / 1000 classes
                "input": [N, C, H, W],
                "state_entries": number of state_dict entries,
                "input_head": first 4 input values (sanity check),
                "logits": {"shape": [N, classes],
                           "indices": [flat indices of the values kept],
                           "data": [float64 logits at those indices],
                           "data32": [float32 logits there, as float64],
                           "sum": sum of all float64 logits,
                           "abs_sum": sum of their absolute values}}]}

* Models are built with timm.create_model(NAME, pretrained=False,
  num_classes=classes) (timm's defaults: BatchNorm eps 1e-3, drop_rate 0),
  first on the meta device, then materialized in float64 and filled with the
  deterministic values; eval mode throughout.
* "data" is the float64 forward pass. "data32" is the same model and input
  rounded to float32 (round to nearest, as Strata's `converted(to: .float32)`)
  and run in float32; Strata's Float32 logits are checked against "data"
  (the exact value), "data32" shows how far timm's own float32 run is.
* Light cases (10 classes, 75x75, the smallest input both models take) keep
  every logit; heavy ones (1000 classes, 299x299) keep every 50th logit plus
  the top 5, and the sum / absolute sum of all of them, to keep the file small.
* "minimum_input" is measured: the model runs at S x S and fails at
  (S-1) x S and S x (S-1).
* MACs count Conv2d and Linear only, via forward hooks (make_zoo_fixtures'
  count_macs): conv = output elements * (C/groups) * kh * kw,
  linear = in_features * out_features. The residual scalings, additions,
  pooling and batch norm are not counted (as everywhere in Strata).

How to run (from the repository root)
-------------------------------------
    Benchmarks/.venv/bin/python Scripts/make_timm_fixtures.py
Needs torch, torchvision (imported by make_zoo_fixtures), timm and numpy:
    Benchmarks/.venv/bin/pip --isolated install timm
Single-threaded float64; about a minute on 2 cores, under 2 GB of memory.
"""

import argparse
import json
import os
import sys
import time

import timm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_zoo_fixtures as zoo  # noqa: E402  (sets torch to 1 thread)

GENERATOR = "Scripts/make_timm_fixtures.py"
INPUT = [3, 299, 299]
MODELS = {"inception_v4": 42_679_816, "inception_resnet_v2": 55_843_464}

# (name, model, classes, [N, C, H, W], heavy)
CASES = [
    ("inception_v4", "inception_v4", 10, [1, 3, 75, 75], False),
    ("inception_resnet_v2", "inception_resnet_v2", 10, [1, 3, 75, 75], False),
    ("inception_v4_heavy", "inception_v4", 1000, [1, 3, 299, 299], True),
    ("inception_resnet_v2_heavy", "inception_resnet_v2", 1000, [1, 3, 299, 299], True),
]


def create(name, classes, device):
    with torch.device(device):
        return timm.create_model(name, pretrained=False, num_classes=classes)


def build(name, classes):
    """float64 CPU model with the deterministic weights, eval mode."""
    m = create(name, classes, "meta").to_empty(device="cpu").double()
    zoo.fill_deterministic(m)
    return m.eval()


def runs_at(model, h, w):
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
        return True
    except RuntimeError:
        return False


def minimum_input(name):
    m = create(name, 10, "cpu").eval()
    s = next(s for s in range(1, 300) if runs_at(m, s, s))
    assert not runs_at(m, s - 1, s) and not runs_at(m, s, s - 1)
    assert all(runs_at(m, t, t) for t in range(s, s + 8))
    return s


def model_entry(name):
    m = create(name, 1000, "meta")
    sd = m.state_dict()
    params = sum(p.numel() for p in m.parameters())
    assert params == MODELS[name], (name, params)
    macs = zoo.count_macs(m, INPUT)
    entry = {"parameters": params, "keys": [[k, list(v.shape)] for k, v in sd.items()],
             "macs": macs, "input": INPUT, "minimum_input": minimum_input(name)}
    print(f"{name:20s} {params:>12,d} parameters {macs:>15,d} MACs ({macs / 1e9:.3f} G) "
          f"{len(sd)} entries, minimum input {entry['minimum_input']}")
    return entry


def kept_indices(y, heavy):
    n = y.numel()
    if not heavy:
        return list(range(n))
    top = torch.topk(y.reshape(-1), 5).indices.tolist()
    return sorted(set(range(0, n, 50)) | set(top))


def case(name, model_name, classes, shape, heavy):
    t0 = time.time()
    m = build(model_name, classes)
    entries = len(m.state_dict())
    x = zoo.deterministic_input(shape)
    with torch.no_grad():
        y = m(x)
        y32 = m.float()(x.float())
    assert list(y.shape) == [shape[0], classes] and torch.isfinite(y).all()
    flat, flat32 = y.reshape(-1), y32.reshape(-1).double()
    idx = kept_indices(y, heavy)
    rel32 = ((flat32 - flat).abs().max() / flat.abs().max()).item()
    print(f"{name:26s} {shape} |logits|max {flat.abs().max().item():.4g}  timm float32 vs float64 "
          f"{rel32:.2e} relative ({time.time() - t0:.1f} s)")
    return {"name": name, "model": model_name, "classes": classes, "heavy": heavy, "input": shape,
            "state_entries": entries,
            "input_head": [float(v) for v in x.reshape(-1)[:4].tolist()],
            "logits": {"shape": list(y.shape), "indices": idx,
                       "data": [float(flat[i]) for i in idx],
                       "data32": [float(flat32[i]) for i in idx],
                       "sum": float(flat.sum()), "abs_sum": float(flat.abs().sum())}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=zoo.FIXTURES, help="output directory")
    args = ap.parse_args()
    models = {n: model_entry(n) for n in MODELS}
    cases = [case(*c) for c in CASES]
    header = {"generator": GENERATOR, "torch": torch.__version__, "timm": timm.__version__,
              "hash_check": zoo.hash_check()}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "timm.json")
    with open(path, "w") as f:
        f.write("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items()))
        f.write(', "models": {\n')
        f.write(",\n".join(f"{json.dumps(n)}: {json.dumps(v)}" for n, v in models.items()))
        f.write('},\n"cases": [\n')
        f.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {len(models)} models and {len(cases)} cases to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
