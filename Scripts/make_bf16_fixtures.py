#!/usr/bin/env python3
"""Generate the PyTorch reduced-precision fixture for Strata's bfloat16/float16 tests.

Writes Tests/StrataNNTests/Fixtures/torch_bf16.safetensors with safetensors.torch.save_file
(no metadata): float32 source values chosen to exercise rounding (ties to even both ways,
just above a tie, overflow to infinity, subnormals, NaN, signed zero) and what PyTorch's
`.to(torch.bfloat16)` and `.to(torch.float16)` make of them, plus int32/int64 tensors, so
that Strata's conversion kernels, its BF16/F16/I32/I64 reader and its writer are checked
bit for bit against PyTorch (SafeTensorsDTypeTests.swift).

    Benchmarks/.venv/bin/python Scripts/make_bf16_fixtures.py

Tensors (sorted): bf16 [16] BF16, f16 [16] F16, f32 [16] F32 (the source values),
i32 [3] I32, i64 [3] I64, w_bf16 [2,3] BF16 (a small weight, seeded normal values).
"""
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "StrataNNTests", "Fixtures")

SOURCE = [
    1.0,
    1.0 + 2.0**-8,                 # tie between 1 and 1+2^-7: to even (down)
    1.0 + 3 * 2.0**-8,             # tie between 1+2^-7 and 1+2^-6: to even (up)
    1.0 + 2.0**-8 + 2.0**-20,      # just above a tie: up
    -3.14159265,
    3.4028234663852886e38,         # float32 max: rounds to bf16 infinity, f16 infinity
    65520.0,                       # f16: rounds to infinity; bf16: 65536
    2.0**-126,                     # smallest float32 normal
    1e-40,                         # float32 subnormal
    -0.0,
    float("inf"),
    -float("inf"),
    float("nan"),
    0.1,
    1 / 3,
    -1000.7,
]


def main():
    os.makedirs(OUT, exist_ok=True)
    f32 = torch.tensor(SOURCE, dtype=torch.float32)
    torch.manual_seed(0)
    tensors = {
        "f32": f32,
        "bf16": f32.to(torch.bfloat16),
        "f16": f32.to(torch.float16),
        "i32": torch.tensor([-7, 0, 2147483647], dtype=torch.int32),
        "i64": torch.tensor([-9007199254740993, 42, 2**40], dtype=torch.int64),
        "w_bf16": torch.randn(2, 3).to(torch.bfloat16),
    }
    save_file(tensors, os.path.join(OUT, "torch_bf16.safetensors"))


if __name__ == "__main__":
    main()
