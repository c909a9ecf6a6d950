#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for Strata's tensor-op tests.

What it makes
-------------
Tests/StrataTensorTests/Fixtures/ops.json: a list of small, deterministic
test cases (inputs, parameters and the outputs PyTorch computes for them) for
conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d, local_response_norm,
batch_norm2d (forward, running-stat update and backward), softmax,
log_softmax, cross_entropy (loss and gradient) and linear. The Swift tests
load this file and compare Strata's results against it.

Everything is computed in float64 with a fixed seed, so re-running the script
with the same torch version gives the same file byte for byte.

File format
-----------
    {"generator": "Scripts/make_op_fixtures.py",
     "torch": "<torch.__version__>",
     "cases": [CASE, ...]}
    CASE   = {"name": str (unique), "op": str, "params": {...},
              "inputs": {name: TENSOR, ...}, "outputs": {name: TENSOR, ...}}
    TENSOR = {"shape": [int, ...],
              "data": [flat row-major values]}   # floats at repr precision
                                                # (exact float64 round trip);
                                                # integer labels as ints

Per-op params / inputs / outputs:
    conv2d              params stride [sh,sw], padding [top,bottom,left,right],
                        dilation [dh,dw], groups, bias (bool);
                        inputs x [N,C,H,W], weight [K,C/g,kh,kw], bias [K]
                        (only when params.bias); output y
    max_pool2d          params kernel [kh,kw], stride [sh,sw], padding [ph,pw],
                        ceil_mode; input x; output y
    avg_pool2d          as max_pool2d plus count_include_pad; input x; output y
    adaptive_avg_pool2d params output_size [oh,ow]; input x; output y
    local_response_norm params size, alpha, beta, k; input x; output y
    batch_norm2d        params training, momentum, eps, affine;
                        inputs x, running_mean, running_var, grad_output,
                        weight and bias (when affine);
                        outputs y, running_mean, running_var (after forward),
                        grad_x, grad_weight and grad_bias (when affine)
    softmax/log_softmax params dim; input x; output y
    cross_entropy       params label_smoothing, reduction ("mean"|"sum");
                        inputs logits [N,K], labels [N] (ints);
                        outputs loss (shape []), grad_logits [N,K]
    linear              inputs x [N,in], weight [out,in], bias [out]; output y

How to run (from the repository root)
-------------------------------------
    python3 -m venv .venv && .venv/bin/pip install torch numpy \
        && .venv/bin/python Scripts/make_op_fixtures.py

Optional argument: an output path (default is the fixture path above).
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "Tests", "StrataTensorTests", "Fixtures", "ops.json")

cases = []


def tensor(t):
    """Encode a tensor as {"shape", "data"} (row-major, float64 or int)."""
    t = t.detach().cpu()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [float(v) for v in t.to(torch.float64).reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


def add(name, op, params, inputs, outputs):
    assert all(c["name"] != name for c in cases), f"duplicate case name {name}"
    for group in (inputs, outputs):
        for k, v in group.items():
            assert v.numel() <= 1000, f"{name}.{k} too large ({v.numel()})"
            if v.is_floating_point():
                assert torch.isfinite(v).all(), f"{name}.{k} not finite"
    cases.append({
        "name": name,
        "op": op,
        "params": params,
        "inputs": {k: tensor(v) for k, v in inputs.items()},
        "outputs": {k: tensor(v) for k, v in outputs.items()},
    })


def randn(*shape):
    return torch.randn(*shape)


def uniform(lo, hi, *shape):
    return torch.rand(*shape) * (hi - lo) + lo


# ---------------------------------------------------------------- conv2d
def conv_case(name, n, c, h, w, k, kh, kw, stride=(1, 1), padding=(0, 0, 0, 0),
              dilation=(1, 1), groups=1, bias=True):
    x = randn(n, c, h, w)
    weight = randn(k, c // groups, kh, kw) * 0.5
    b = randn(k) if bias else None
    top, bottom, left, right = padding
    xp = F.pad(x, (left, right, top, bottom))
    y = F.conv2d(xp, weight, b, stride=tuple(stride), padding=0,
                 dilation=tuple(dilation), groups=groups)
    inputs = {"x": x, "weight": weight}
    if bias:
        inputs["bias"] = b
    add(name, "conv2d",
        {"stride": list(stride), "padding": list(padding),
         "dilation": list(dilation), "groups": groups, "bias": bias},
        inputs, {"y": y})


conv_case("conv2d_3x3_pad1_n2_c3_k4_7x7", 2, 3, 7, 7, 4, 3, 3, padding=(1, 1, 1, 1))
conv_case("conv2d_3x3_stride2_pad1_n1_c3_k4_9x9", 1, 3, 9, 9, 4, 3, 3,
          stride=(2, 2), padding=(1, 1, 1, 1))
conv_case("conv2d_3x3_stride2_nopad_n2_c4_k3_7x5", 2, 4, 7, 5, 3, 3, 3, stride=(2, 2))
conv_case("conv2d_3x3_asym_pad_t0_b2_l1_r0_n2_c3_k4_5x7", 2, 3, 5, 7, 4, 3, 3,
          padding=(0, 2, 1, 0))
conv_case("conv2d_3x3_dilation2_pad2_n1_c3_k4_9x9", 1, 3, 9, 9, 4, 3, 3,
          padding=(2, 2, 2, 2), dilation=(2, 2))
conv_case("conv2d_3x3_dilation2_nopad_n2_c4_k2_7x7", 2, 4, 7, 7, 2, 3, 3, dilation=(2, 2))
conv_case("conv2d_3x3_groups2_pad1_n2_c4_k6_5x5", 2, 4, 5, 5, 6, 3, 3,
          padding=(1, 1, 1, 1), groups=2)
conv_case("conv2d_3x3_groups3_stride2_n1_c6_k6_7x7", 1, 6, 7, 7, 6, 3, 3,
          stride=(2, 2), padding=(1, 1, 1, 1), groups=3)
conv_case("conv2d_3x3_depthwise_pad1_n2_c6_k6_5x5", 2, 6, 5, 5, 6, 3, 3,
          padding=(1, 1, 1, 1), groups=6)
conv_case("conv2d_1x1_n3_c6_k4_5x5", 3, 6, 5, 5, 4, 1, 1)
conv_case("conv2d_1x1_stride2_n2_c4_k6_7x7", 2, 4, 7, 7, 6, 1, 1, stride=(2, 2))
conv_case("conv2d_3x2_stride2x1_pad1_n2_c3_k4_7x5", 2, 3, 7, 5, 4, 3, 2,
          stride=(2, 1), padding=(1, 1, 0, 0))
conv_case("conv2d_3x3_nobias_pad1_n2_c3_k4_5x5", 2, 3, 5, 5, 4, 3, 3,
          padding=(1, 1, 1, 1), bias=False)
conv_case("conv2d_5x5_stride2_pad2_nobias_n1_c3_k3_9x9", 1, 3, 9, 9, 3, 5, 5,
          stride=(2, 2), padding=(2, 2, 2, 2), bias=False)


# ---------------------------------------------------------------- max_pool2d
def max_pool_case(name, n, c, h, w, kernel, stride, padding=(0, 0), ceil_mode=False):
    x = randn(n, c, h, w)
    y = F.max_pool2d(x, kernel_size=tuple(kernel), stride=tuple(stride),
                     padding=tuple(padding), ceil_mode=ceil_mode)
    add(name, "max_pool2d",
        {"kernel": list(kernel), "stride": list(stride), "padding": list(padding),
         "ceil_mode": ceil_mode},
        {"x": x}, {"y": y})


max_pool_case("max_pool2d_k2_s2_n2_c3_6x6", 2, 3, 6, 6, (2, 2), (2, 2))
max_pool_case("max_pool2d_k2_s2_floor_n1_c3_7x7", 1, 3, 7, 7, (2, 2), (2, 2))
# ceil: 7 -> 4 instead of 3
max_pool_case("max_pool2d_k2_s2_ceil_n1_c3_7x7", 1, 3, 7, 7, (2, 2), (2, 2), ceil_mode=True)
# ResNet stem style
max_pool_case("max_pool2d_k3_s2_p1_n2_c4_9x9", 2, 4, 9, 9, (3, 3), (2, 2), (1, 1))
max_pool_case("max_pool2d_k3_s2_p1_n1_c3_7x5", 1, 3, 7, 5, (3, 3), (2, 2), (1, 1))
# AlexNet style k3 s2, ceil: 8 -> 4 instead of 3
max_pool_case("max_pool2d_k3_s2_ceil_n2_c3_8x6", 2, 3, 8, 6, (3, 3), (2, 2), ceil_mode=True)
# ceil with padding 1: 6 -> 4 instead of 3 (last window starts inside the input)
max_pool_case("max_pool2d_k3_s2_p1_ceil_n1_c4_6x6", 1, 4, 6, 6, (3, 3), (2, 2), (1, 1), ceil_mode=True)
# ceil with padding 1 where torch drops the last window (it would start in the
# right padding): 5 -> 3 both ways
max_pool_case("max_pool2d_k2_s2_p1_ceil_clipped_n2_c3_5x5", 2, 3, 5, 5, (2, 2), (2, 2), (1, 1),
              ceil_mode=True)
max_pool_case("max_pool2d_k3_s1_p1_n2_c3_5x5", 2, 3, 5, 5, (3, 3), (1, 1), (1, 1))
max_pool_case("max_pool2d_k3x2_s2x1_n1_c3_7x5", 1, 3, 7, 5, (3, 2), (2, 1))


# ---------------------------------------------------------------- avg_pool2d
def avg_pool_case(name, n, c, h, w, kernel, stride, padding=(0, 0), ceil_mode=False,
                  count_include_pad=True):
    x = randn(n, c, h, w)
    y = F.avg_pool2d(x, kernel_size=tuple(kernel), stride=tuple(stride),
                     padding=tuple(padding), ceil_mode=ceil_mode,
                     count_include_pad=count_include_pad)
    add(name, "avg_pool2d",
        {"kernel": list(kernel), "stride": list(stride), "padding": list(padding),
         "ceil_mode": ceil_mode, "count_include_pad": count_include_pad},
        {"x": x}, {"y": y})


avg_pool_case("avg_pool2d_k2_s2_n2_c3_6x6", 2, 3, 6, 6, (2, 2), (2, 2))
avg_pool_case("avg_pool2d_k2_s2_floor_n1_c3_7x7", 1, 3, 7, 7, (2, 2), (2, 2))
avg_pool_case("avg_pool2d_k2_s2_ceil_n1_c3_7x7", 1, 3, 7, 7, (2, 2), (2, 2), ceil_mode=True)
avg_pool_case("avg_pool2d_k3_s2_p1_incpad_n2_c3_7x7", 2, 3, 7, 7, (3, 3), (2, 2), (1, 1),
              count_include_pad=True)
avg_pool_case("avg_pool2d_k3_s2_p1_excpad_n2_c3_7x7", 2, 3, 7, 7, (3, 3), (2, 2), (1, 1),
              count_include_pad=False)
# ceil + padding: 6 -> 4 (last window partly outside the padded input)
avg_pool_case("avg_pool2d_k3_s2_p1_ceil_incpad_n1_c4_6x6", 1, 4, 6, 6, (3, 3), (2, 2), (1, 1),
              ceil_mode=True, count_include_pad=True)
avg_pool_case("avg_pool2d_k3_s2_p1_ceil_excpad_n1_c4_6x6", 1, 4, 6, 6, (3, 3), (2, 2), (1, 1),
              ceil_mode=True, count_include_pad=False)
# ceil + padding, rectangular: H 8 -> 5 instead of 4; the last row window starts
# on the last input row and covers that row, the bottom pad and one row beyond
avg_pool_case("avg_pool2d_k3_s2_p1_ceil_incpad_n2_c3_8x5", 2, 3, 8, 5, (3, 3), (2, 2), (1, 1),
              ceil_mode=True, count_include_pad=True)
avg_pool_case("avg_pool2d_k3_s2_p1_ceil_excpad_n2_c3_8x5", 2, 3, 8, 5, (3, 3), (2, 2), (1, 1),
              ceil_mode=True, count_include_pad=False)
# ceil where torch drops the window that would start in the right padding
avg_pool_case("avg_pool2d_k2_s2_p1_ceil_clipped_incpad_n1_c3_5x5", 1, 3, 5, 5, (2, 2), (2, 2),
              (1, 1), ceil_mode=True, count_include_pad=True)
avg_pool_case("avg_pool2d_k3x2_s2x1_p1x0_n1_c3_7x5", 1, 3, 7, 5, (3, 2), (2, 1), (1, 0))


# ---------------------------------------------------------------- adaptive_avg_pool2d
def adaptive_case(name, n, c, h, w, oh, ow):
    x = randn(n, c, h, w)
    y = F.adaptive_avg_pool2d(x, (oh, ow))
    add(name, "adaptive_avg_pool2d", {"output_size": [oh, ow]}, {"x": x}, {"y": y})


adaptive_case("adaptive_avg_pool2d_global_n2_c4_7x7_to_1x1", 2, 4, 7, 7, 1, 1)
adaptive_case("adaptive_avg_pool2d_global_n1_c6_5x3_to_1x1", 1, 6, 5, 3, 1, 1)
adaptive_case("adaptive_avg_pool2d_n2_c3_7x7_to_3x3", 2, 3, 7, 7, 3, 3)
adaptive_case("adaptive_avg_pool2d_n1_c3_5x5_to_2x2", 1, 3, 5, 5, 2, 2)
adaptive_case("adaptive_avg_pool2d_n2_c3_3x3_to_5x5", 2, 3, 3, 3, 5, 5)
adaptive_case("adaptive_avg_pool2d_n1_c4_9x7_to_4x3", 1, 4, 9, 7, 4, 3)
adaptive_case("adaptive_avg_pool2d_identity_n1_c3_5x5_to_5x5", 1, 3, 5, 5, 5, 5)
adaptive_case("adaptive_avg_pool2d_n2_c3_6x6_to_3x2", 2, 3, 6, 6, 3, 2)


# ---------------------------------------------------------------- local_response_norm
def lrn_case(name, n, c, h, w, size, alpha, beta, k, scale=1.0):
    x = randn(n, c, h, w) * scale
    y = F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k)
    add(name, "local_response_norm",
        {"size": size, "alpha": alpha, "beta": beta, "k": k}, {"x": x}, {"y": y})


lrn_case("local_response_norm_alexnet_size5_n2_c7_3x3", 2, 7, 3, 3, 5, 1e-4, 0.75, 2.0,
         scale=10.0)
lrn_case("local_response_norm_size4_alpha0.1_n1_c6_3x5", 1, 6, 3, 5, 4, 0.1, 0.75, 1.0, scale=2.0)
lrn_case("local_response_norm_size3_alpha0.5_beta0.5_n2_c4_3x3", 2, 4, 3, 3, 3, 0.5, 0.5, 1.0)
lrn_case("local_response_norm_size2_alpha0.2_k1_n1_c3_5x5", 1, 3, 5, 5, 2, 0.2, 0.75, 1.0)


# ---------------------------------------------------------------- batch_norm2d
def bn_case(name, n, c, h, w, training, momentum, eps, affine):
    x = (randn(n, c, h, w) * uniform(0.5, 3.0, 1, c, 1, 1) + uniform(-1.0, 1.0, 1, c, 1, 1))
    running_mean = uniform(-0.5, 0.5, c)
    running_var = uniform(0.5, 2.0, c)
    weight = uniform(0.5, 1.5, c) if affine else None
    bias = randn(c) * 0.5 if affine else None
    grad_output = randn(n, c, h, w)

    inputs = {"x": x.clone(), "running_mean": running_mean.clone(),
              "running_var": running_var.clone()}
    if affine:
        inputs["weight"] = weight.clone()
        inputs["bias"] = bias.clone()
    inputs["grad_output"] = grad_output.clone()

    xg = x.clone().requires_grad_(True)
    wg = weight.clone().requires_grad_(True) if affine else None
    bg = bias.clone().requires_grad_(True) if affine else None
    rm = running_mean.clone()
    rv = running_var.clone()
    y = F.batch_norm(xg, rm, rv, wg, bg, training=training, momentum=momentum, eps=eps)
    y.backward(grad_output)

    outputs = {"y": y, "running_mean": rm, "running_var": rv, "grad_x": xg.grad}
    if affine:
        outputs["grad_weight"] = wg.grad
        outputs["grad_bias"] = bg.grad
    add(name, "batch_norm2d",
        {"training": training, "momentum": momentum, "eps": eps, "affine": affine},
        inputs, outputs)


bn_case("batch_norm2d_train_affine_m0.1_eps1e-5_n2_c3_5x5", 2, 3, 5, 5, True, 0.1, 1e-5, True)
bn_case("batch_norm2d_train_noaffine_m0.1_eps1e-5_n3_c4_3x3", 3, 4, 3, 3, True, 0.1, 1e-5, False)
bn_case("batch_norm2d_train_affine_m0.3_eps1e-3_n1_c6_3x5", 1, 6, 3, 5, True, 0.3, 1e-3, True)
bn_case("batch_norm2d_eval_affine_m0.1_eps1e-5_n2_c4_3x3", 2, 4, 3, 3, False, 0.1, 1e-5, True)
bn_case("batch_norm2d_eval_noaffine_m0.1_eps1e-5_n2_c3_3x3", 2, 3, 3, 3, False, 0.1, 1e-5, False)


# ---------------------------------------------------------------- softmax / log_softmax
def softmax_case(op, name, shape, dim, scale=1.0):
    x = randn(*shape) * scale
    fn = F.softmax if op == "softmax" else F.log_softmax
    add(name, op, {"dim": dim}, {"x": x}, {"y": fn(x, dim=dim)})


for op in ("softmax", "log_softmax"):
    softmax_case(op, f"{op}_2d_3x5_dim1", (3, 5), 1)
    softmax_case(op, f"{op}_2d_4x3_dim0", (4, 3), 0)
    softmax_case(op, f"{op}_2d_2x7_dim1_large_logits", (2, 7), 1, scale=100.0)
    softmax_case(op, f"{op}_4d_2x4x3x3_dim1", (2, 4, 3, 3), 1)
    softmax_case(op, f"{op}_4d_1x6x5x5_dim1", (1, 6, 5, 5), 1)


# ---------------------------------------------------------------- cross_entropy
def ce_case(name, n, k, label_smoothing, reduction, scale=2.0):
    logits = randn(n, k) * scale
    labels = torch.randint(0, k, (n,))
    lg = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(lg, labels, label_smoothing=label_smoothing, reduction=reduction)
    loss.backward()
    add(name, "cross_entropy",
        {"label_smoothing": label_smoothing, "reduction": reduction},
        {"logits": logits, "labels": labels},
        {"loss": loss.detach().reshape(()), "grad_logits": lg.grad})


ce_case("cross_entropy_ls0_mean_n4_k5", 4, 5, 0.0, "mean")
ce_case("cross_entropy_ls0.1_mean_n3_k7", 3, 7, 0.1, "mean")
ce_case("cross_entropy_ls0.2_sum_n5_k4", 5, 4, 0.2, "sum")
ce_case("cross_entropy_ls0_sum_n3_k6", 3, 6, 0.0, "sum")
ce_case("cross_entropy_ls0_mean_n1_k10", 1, 10, 0.0, "mean")
ce_case("cross_entropy_ls0.1_mean_n1_k3", 1, 3, 0.1, "mean")


# ---------------------------------------------------------------- linear
def linear_case(name, n, fin, fout):
    x = randn(n, fin)
    weight = randn(fout, fin) * 0.5
    bias = randn(fout)
    add(name, "linear", {}, {"x": x, "weight": weight, "bias": bias},
        {"y": F.linear(x, weight, bias)})


linear_case("linear_n1_in5_out3", 1, 5, 3)
linear_case("linear_n3_in7_out4", 3, 7, 4)
linear_case("linear_n2_in16_out10", 2, 16, 10)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    doc = {"generator": "Scripts/make_op_fixtures.py", "torch": torch.__version__,
           "cases": cases}
    # One case per line keeps diffs readable while staying compact.
    with open(out, "w") as f:
        f.write('{"generator": ' + json.dumps(doc["generator"]) + ', "torch": '
                + json.dumps(doc["torch"]) + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {len(cases)} cases to {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
