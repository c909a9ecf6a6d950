#!/usr/bin/env python3
"""Generate PyTorch/torchvision reference fixtures for Strata's model zoo.

What it makes (all under Tests/StrataModelsTests/Fixtures/)
-----------------------------------------------------------
state_dicts.json
    For every zoo model: parameter count, the full state_dict layout (keys in
    state_dict order with shapes, buffers included), the multiply-accumulate
    count of one forward pass and the input shape it was measured at.

        {"generator": "Scripts/make_zoo_fixtures.py",
         "torch": "<torch.__version__>", "torchvision": "<version>",
         "models": {NAME: {"parameters": P,             # trainable elements
                           "keys": [[KEY, [d0, d1, ...]], ...],
                           "macs": M,
                           "input": [C, H, W]}}}

    num_batches_tracked buffers are listed with shape [] (a scalar).
    MACs count Conv2d and Linear layers only, for ONE image, in eval mode,
    via forward hooks: conv = output elements (K*Ho*Wo) * (C/groups) * kh * kw,
    linear = in_features * out_features. GoogLeNet / Inception-v3 auxiliary
    heads do not run in eval mode, so they are not counted (googlenet and
    googlenet_noaux therefore have the same MACs but different keys).
    torchvision models are built with weights=None and 1000 classes;
    googlenet / inception_v3 with aux_logits=True, init_weights=False
    ("googlenet_noaux": aux_logits=False).

parity.json
    Eval-mode float64 logits for deterministic weights and inputs that the
    Swift side regenerates from the hash below (so no weight files are needed).

        {"generator": ..., "torch": ..., "torchvision": ...,
         "hash_check": {...},                      # see "Deterministic values"
         "cases": [{"name": unique str,
                    "model": zoo name (a key of state_dicts.json),
                    "classes": num_classes,
                    "heavy": bool,                 # 224x224 / 1000-class runs
                    "input": [N, C, H, W],
                    "state_entries": number of state_dict entries,
                    "input_head": first 4 input values (sanity check),
                    "logits": {"shape": [N, classes], "data": [...]}}]}

training.json
    One training-mode step (model.train(), float64, BatchNorm momentum 0.1,
    eps 1e-5) from the same deterministic weights/input: forward, mean
    cross-entropy against labels[i] = i % classes, backward.

        {"generator": ..., "torch": ..., "torchvision": ...,
         "cases": [{"name", "model", "classes", "input": [N,C,H,W],
                    "labels": [...], "loss": float,
                    "logits": TENSOR,
                    "gradients": {PARAM_KEY: TENSOR, ...},
                    "running_stats": {BN_PREFIX: {"running_mean": TENSOR,
                                                  "running_var": TENSOR,
                                                  "num_batches_tracked": 1}}}]}
    TENSOR = {"shape": [...], "data": [flat row-major float64 values]}.
    Running statistics are those after the forward pass (PyTorch updates
    running_var with the unbiased batch variance).

Deterministic values
--------------------
For state-dict entry number k (0-based, state_dict order, buffers included)
with n elements, element i (0-based, row-major), all arithmetic mod 2^32
(UInt32 wrapping arithmetic in Swift gives the same result):

    x = i * 2654435761 + (k + 1) * 40503 + 12345
    x ^= x >> 15;  x *= 2246822519
    x ^= x >> 13;  x *= 3266489917
    x ^= x >> 16
    u = x / 2^32            (float64, in [0, 1), exact)
    s = 2 * u - 1           (exact)

    key ends with "num_batches_tracked" -> 0
    key ends with "running_var"         -> 0.5 + u
    key ends with "running_mean"        -> 0.2 * s
    key ends with ".bias"               -> 0.1 * s
    rank-1 ".weight" (BatchNorm)        -> 1 + 0.2 * s
    rank >= 2 weights                   -> s * sqrt(6.0 / fan_in),
                                           fan_in = prod(shape[1:])

The input tensor [N, C, H, W] uses the same hash with k = 1000003 and value s.
"hash_check" in parity.json records u for k = 0, i = 0, 1, 2 and a few more.

Notes
-----
* torchvision's googlenet / inception_v3 with weights=None have
  transform_input=False; that is kept (the script asserts it). Their conv
  blocks use BatchNorm eps=0.001; every other BN here uses eps=1e-5.
* alexnet_bn needs H, W >= 127 (four 3x3/2 max pools after the stride-4
  conv), so its parity case uses 127x127 rather than 64x64.
* Computations run single-threaded in float64, so re-running with the same
  torch build on the same machine reproduces the files byte for byte; other
  BLAS builds may differ in the last bits (the Swift tests use tolerances).

How to run (from the repository root)
-------------------------------------
    .venv/bin/python Scripts/make_zoo_fixtures.py            # everything
    .venv/bin/python Scripts/make_zoo_fixtures.py --only state_dicts
        (--only takes state_dicts, parity or training; repeatable)
Needs torch, torchvision and numpy; runs in a few minutes on 2 cores and
needs about 4 GB of memory (the float64 VGG-16 heavy case).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import models as tvm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import strata_reference_models as srm  # noqa: E402

REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "Tests", "StrataModelsTests", "Fixtures")
GENERATOR = "Scripts/make_zoo_fixtures.py"

torch.set_num_threads(1)

# ------------------------------------------------------------------ the zoo
IMAGENET = [3, 224, 224]
CIFAR = [3, 32, 32]


def _googlenet(num_classes=1000, aux=True):
    m = tvm.googlenet(weights=None, num_classes=num_classes, aux_logits=aux,
                      init_weights=False)
    assert m.transform_input is False
    return m


def _inception_v3(num_classes=1000):
    m = tvm.inception_v3(weights=None, num_classes=num_classes, aux_logits=True,
                         init_weights=False)
    assert m.transform_input is False
    return m


def _tv(name):
    fn = getattr(tvm, name)
    return lambda num_classes=1000: fn(weights=None, num_classes=num_classes)


# name -> (constructor(num_classes), default classes, input [C, H, W])
ZOO = {}
for _n in ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn"]:
    ZOO[_n] = (_tv(_n), 1000, IMAGENET)
ZOO["googlenet"] = (lambda num_classes=1000: _googlenet(num_classes, True), 1000, IMAGENET)
ZOO["googlenet_noaux"] = (lambda num_classes=1000: _googlenet(num_classes, False), 1000, IMAGENET)
ZOO["inception_v3"] = (_inception_v3, 1000, [3, 299, 299])
for _n in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "densenet121", "densenet161", "densenet169", "densenet201"]:
    ZOO[_n] = (_tv(_n), 1000, IMAGENET)
ZOO["lenet5"] = (srm.lenet5, 10, [1, 32, 32])
ZOO["alexnet2012"] = (srm.alexnet2012, 1000, IMAGENET)
ZOO["alexnet_bn"] = (srm.alexnet_bn, 1000, IMAGENET)
for _n in ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
           "resnet20_b", "resnet56_b", "plain20", "plain56"]:
    ZOO[_n] = (getattr(srm, _n), 10, CIFAR)
ZOO["densenet_bc_100"] = (lambda num_classes=10: srm.densenet_bc(100, 12, num_classes), 10, CIFAR)
ZOO["densenet_bc_40"] = (lambda num_classes=10: srm.densenet_bc(40, 12, num_classes), 10, CIFAR)

# Models listed in state_dicts.json (densenet_bc_40 is only used for training).
STATE_DICT_MODELS = [n for n in ZOO if n != "densenet_bc_40"]

# (name, model, classes, [N, C, H, W], heavy)
PARITY_CASES = [
    ("lenet5", "lenet5", 10, [2, 1, 32, 32], False),
    ("alexnet", "alexnet", 10, [1, 3, 64, 64], False),
    ("alexnet2012", "alexnet2012", 10, [1, 3, 67, 67], False),
    ("alexnet_bn", "alexnet_bn", 10, [2, 3, 127, 127], False),
    ("vgg11_bn", "vgg11_bn", 10, [1, 3, 32, 32], False),
    ("googlenet", "googlenet", 10, [1, 3, 64, 64], False),
    ("inception_v3", "inception_v3", 10, [1, 3, 75, 75], False),
    ("resnet18", "resnet18", 10, [2, 3, 32, 32], False),
    ("resnet50", "resnet50", 10, [1, 3, 32, 32], False),
    ("densenet121", "densenet121", 10, [1, 3, 32, 32], False),
    ("resnet20", "resnet20", 10, [2, 3, 32, 32], False),
    ("resnet20_b", "resnet20_b", 10, [2, 3, 16, 16], False),
    ("plain20", "plain20", 10, [2, 3, 16, 16], False),
    ("densenet_bc_100", "densenet_bc_100", 10, [1, 3, 16, 16], False),
    ("vgg16_heavy", "vgg16", 1000, [1, 3, 224, 224], True),
    ("resnet50_heavy", "resnet50", 1000, [1, 3, 224, 224], True),
    ("densenet121_heavy", "densenet121", 1000, [1, 3, 224, 224], True),
    ("googlenet_heavy", "googlenet", 1000, [1, 3, 224, 224], True),
]

# (name, model, classes, [N, C, H, W], gradient keys, BN prefixes)
TRAINING_CASES = [
    ("resnet20", "resnet20", 10, [4, 3, 16, 16],
     ["conv1.weight", "layer2.0.bn1.weight", "layer2.1.bn2.bias",
      "layer3.2.conv2.weight", "fc.weight", "fc.bias"],
     ["bn1", "layer2.0.bn2", "layer3.2.bn2"]),
    ("densenet_bc_40", "densenet_bc_40", 10, [2, 3, 16, 16],
     ["features.conv0.weight", "features.denseblock2.denselayer3.norm1.weight",
      "features.transition2.conv.weight", "features.denseblock3.denselayer6.conv2.weight",
      "classifier.weight", "classifier.bias"],
     ["features.denseblock1.denselayer1.norm1", "features.transition2.norm",
      "features.norm5"]),
]

INPUT_K = 1000003


# ------------------------------------------------------ deterministic values
MASK32 = np.uint64(0xFFFFFFFF)
CHUNK = 1 << 22


def hash_u(k, start, count):
    """u = hash(k, i) / 2^32 for i in [start, start + count), float64."""
    x = np.arange(start, start + count, dtype=np.uint64)
    x *= np.uint64(2654435761)
    x += np.uint64(((k + 1) * 40503 + 12345) & 0xFFFFFFFF)
    x &= MASK32
    x ^= x >> np.uint64(15)
    x *= np.uint64(2246822519)
    x &= MASK32
    x ^= x >> np.uint64(13)
    x *= np.uint64(3266489917)
    x &= MASK32
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / 4294967296.0


def hash_u_reference(k, i):
    """Plain-integer version of the hash, used to cross-check hash_u."""
    m = 0xFFFFFFFF
    x = (i * 2654435761 + (k + 1) * 40503 + 12345) & m
    x ^= x >> 15
    x = (x * 2246822519) & m
    x ^= x >> 13
    x = (x * 3266489917) & m
    x ^= x >> 16
    return x / 2 ** 32


def entry_values(key, shape, k, start, count):
    """Deterministic float64 values for elements [start, start+count)."""
    if key.endswith("num_batches_tracked"):
        return np.zeros(count)
    u = hash_u(k, start, count)
    if key.endswith("running_var"):
        return 0.5 + u
    s = 2.0 * u - 1.0
    if key.endswith("running_mean"):
        return 0.2 * s
    if key.endswith(".bias"):
        return 0.1 * s
    if key.endswith(".weight") and len(shape) == 1:
        return 1.0 + 0.2 * s
    if key.endswith(".weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return s * math.sqrt(6.0 / fan_in)
    raise ValueError(f"no deterministic rule for {key} {shape}")


def fill_deterministic(model):
    """Overwrite every state_dict entry of a float64 CPU model in place."""
    sd = model.state_dict()
    named = dict(model.named_parameters())
    named.update(dict(model.named_buffers()))
    assert set(named) == set(sd), "non-persistent buffers or missing entries"
    with torch.no_grad():
        for k, (key, t) in enumerate(sd.items()):
            if key.endswith("num_batches_tracked"):
                t.zero_()
                continue
            assert t.dtype == torch.float64 and t.is_contiguous(), key
            flat = t.view(-1).numpy()
            shape = list(t.shape)
            for start in range(0, flat.size, CHUNK):
                count = min(CHUNK, flat.size - start)
                flat[start:start + count] = entry_values(key, shape, k, start, count)
    return len(sd)


def deterministic_input(shape):
    n = int(np.prod(shape))
    u = hash_u(INPUT_K, 0, n)
    return torch.from_numpy(2.0 * u - 1.0).reshape(shape)


def build(name, classes, device="cpu"):
    ctor = ZOO[name][0]
    if device == "meta":
        with torch.device("meta"):
            return ctor(num_classes=classes)
    with torch.device("meta"):
        m = ctor(num_classes=classes)
    m = m.to_empty(device="cpu").double()
    fill_deterministic(m)
    return m


# -------------------------------------------------------------- state dicts
def count_macs(model, input_chw):
    macs = []

    def conv_hook(mod, inp, out):
        kh, kw = mod.kernel_size
        macs.append(out[0].numel() * (mod.in_channels // mod.groups) * kh * kw)

    def linear_hook(mod, inp, out):
        rows = out.numel() // out.shape[-1] // inp[0].shape[0]
        macs.append(rows * mod.in_features * mod.out_features)

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook))
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        model(torch.zeros([1] + list(input_chw), device=device))
    for h in handles:
        h.remove()
    return sum(macs)


def make_state_dicts(out_dir):
    models = {}
    print(f"{'model':18s} {'parameters':>13s} {'MACs':>15s} {'GMACs':>8s}  input")
    for name in STATE_DICT_MODELS:
        _, classes, chw = ZOO[name]
        m = build(name, classes, device="meta")
        sd = m.state_dict()
        keys = [[k, list(v.shape)] for k, v in sd.items()]
        params = sum(p.numel() for p in m.parameters())
        macs = count_macs(m, chw)
        models[name] = {"parameters": params, "keys": keys, "macs": macs, "input": chw}
        print(f"{name:18s} {params:>13,d} {macs:>15,d} {macs / 1e9:>8.3f}  {chw}")
    path = os.path.join(out_dir, "state_dicts.json")
    with open(path, "w") as f:
        f.write("{" + f'"generator": {json.dumps(GENERATOR)}, '
                f'"torch": {json.dumps(torch.__version__)}, '
                f'"torchvision": {json.dumps(torchvision.__version__)}, "models": {{\n')
        f.write(",\n".join(f"{json.dumps(n)}: {json.dumps(v)}" for n, v in models.items()))
        f.write("\n}}\n")
    print(f"wrote {len(models)} models to {path} ({os.path.getsize(path)} bytes)")


# ------------------------------------------------------------------ parity
def tensor_json(t):
    t = t.detach().cpu().to(torch.float64).contiguous()
    assert torch.isfinite(t).all()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def hash_check():
    for k, i in [(0, 0), (0, 1), (0, 2), (5, 7), (INPUT_K, 0), (3, 100000000)]:
        a = hash_u_reference(k, i)
        b = float(hash_u(k, i, 1)[0])
        assert a == b, (k, i, a, b)
    return {
        "k0_u_i0_1_2": [hash_u_reference(0, i) for i in range(3)],
        "k0_x_i0_1_2": [int(hash_u_reference(0, i) * 2 ** 32) for i in range(3)],
        "k5_u_i7": hash_u_reference(5, 7),
        "k3_u_i100000000": hash_u_reference(3, 100000000),
        "input_k": INPUT_K,
        "input_s_i0_1_2": [2 * hash_u_reference(INPUT_K, i) - 1 for i in range(3)],
    }


def write_cases(path, header, cases):
    with open(path, "w") as f:
        f.write("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items())
                + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {len(cases)} cases to {path} ({os.path.getsize(path)} bytes)")


def make_parity(out_dir):
    cases = []
    for name, model_name, classes, shape, heavy in PARITY_CASES:
        t0 = time.time()
        m = build(model_name, classes)
        entries = len(m.state_dict())
        m.eval()
        x = deterministic_input(shape)
        with torch.no_grad():
            y = m(x)
        assert isinstance(y, torch.Tensor) and list(y.shape) == [shape[0], classes]
        cases.append({"name": name, "model": model_name, "classes": classes,
                      "heavy": heavy, "input": shape, "state_entries": entries,
                      "input_head": [float(v) for v in x.reshape(-1)[:4].tolist()],
                      "logits": tensor_json(y)})
        print(f"parity {name:18s} {shape}  |logits|max {y.abs().max().item():.4g}  "
              f"({time.time() - t0:.1f}s)")
        del m, x, y
    header = {"generator": GENERATOR, "torch": torch.__version__,
              "torchvision": torchvision.__version__, "hash_check": hash_check()}
    write_cases(os.path.join(out_dir, "parity.json"), header, cases)


# ---------------------------------------------------------------- training
def make_training(out_dir):
    cases = []
    for name, model_name, classes, shape, grad_keys, bn_prefixes in TRAINING_CASES:
        m = build(model_name, classes)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                assert mod.momentum == 0.1 and mod.eps == 1e-5
        m.train()
        x = deterministic_input(shape)
        labels = torch.arange(shape[0]) % classes
        logits = m(x)
        loss = F.cross_entropy(logits, labels)
        sd = m.state_dict()
        stats = {}
        for p in bn_prefixes:
            assert int(sd[p + ".num_batches_tracked"]) == 1
            stats[p] = {"running_mean": tensor_json(sd[p + ".running_mean"]),
                        "running_var": tensor_json(sd[p + ".running_var"]),
                        "num_batches_tracked": 1}
        loss.backward()
        params = dict(m.named_parameters())
        grads = {k: tensor_json(params[k].grad) for k in grad_keys}
        cases.append({"name": name, "model": model_name, "classes": classes,
                      "input": shape, "labels": labels.tolist(),
                      "loss": float(loss.item()), "logits": tensor_json(logits),
                      "gradients": grads, "running_stats": stats})
        print(f"training {name}: loss {loss.item():.17g}")
    header = {"generator": GENERATOR, "torch": torch.__version__,
              "torchvision": torchvision.__version__}
    write_cases(os.path.join(out_dir, "training.json"), header, cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append",
                    choices=["state_dicts", "parity", "training"])
    ap.add_argument("--out", default=FIXTURES, help="output directory")
    args = ap.parse_args()
    which = args.only or ["state_dicts", "parity", "training"]
    os.makedirs(args.out, exist_ok=True)
    if "state_dicts" in which:
        make_state_dicts(args.out)
    if "parity" in which:
        make_parity(args.out)
    if "training" in which:
        make_training(args.out)


if __name__ == "__main__":
    main()
