#!/usr/bin/env python3
"""Generate the safetensors and .npy fixtures for Strata's file-format tests.

Writes into Tests/StrataNNTests/Fixtures/ using the real libraries
(safetensors.torch.save_file, numpy.save, numpy.lib.format.write_array), so the
Swift readers are checked against files those libraries produce. The values
are small and chosen to be exact in every stored dtype; SerializationTests.swift
spells the same values out, so keep the two in sync.

    /work/main/.venv/bin/python Scripts/make_io_fixtures.py

Files
-----
python.safetensors   F32 [2,3], F16 [8], BF16 [5], F64 [2,2], I64 [4], I32 [2],
                     I16 [2], I8 [2], U8 [3], BOOL [3], F32 scalar [], F32 empty
                     [0,3]; metadata {format, producer, text}
f4.npy  f8.npy  i8.npy  u1.npy  f2.npy  i1.npy  b1.npy  be_f4.npy  scalar.npy
empty.npy            version 1.0 files as numpy.save writes them
fortran.npy          float32 [2,3,4], fortran_order True
v2.npy               version 2.0, float64 [3,2]
v3.npy               version 3.0, int32 [4]
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "StrataNNTests", "Fixtures")

F32 = [[0.5, -1.25, 3.0], [0.375, -0.0, 1024.5]]
F16 = [1.0, -2.5, 65504.0, 2.0**-24, 2.0**-14, float("inf"), -float("inf"), 0.333251953125]
BF16 = [1.0, -3.5, 2.0**100, 0.0078125, 3.140625]
F64 = [[0.1, -1e300], [5e-324, 1 / 3]]
I64 = [-9007199254740993, 0, 42, 2**40]


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {
        "f32": torch.tensor(F32, dtype=torch.float32),
        "f16": torch.tensor(F16, dtype=torch.float16),
        "bf16": torch.tensor(BF16, dtype=torch.bfloat16),
        "f64": torch.tensor(F64, dtype=torch.float64),
        "i64": torch.tensor(I64, dtype=torch.int64),
        "i32": torch.tensor([-7, 2147483647], dtype=torch.int32),
        "i16": torch.tensor([-32768, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    metadata = {"format": "pt", "producer": "make_io_fixtures.py", "text": 'π ≈ 3.14, "quoted"'}
    save_file(tensors, os.path.join(OUT, "python.safetensors"), metadata=metadata)

    def save(name, array):
        np.save(os.path.join(OUT, name), array)

    save("f4.npy", np.array(F32, dtype="<f4"))
    save("f8.npy", np.array(sum(F64, []), dtype="<f8"))
    save("i8.npy", np.array(I64, dtype="<i8"))
    save("u1.npy", np.array([[0, 255], [7, 128]], dtype="|u1"))
    save("f2.npy", np.array(F16, dtype="<f2"))
    save("i1.npy", np.array([-128, 127, 0], dtype="|i1"))
    save("b1.npy", np.array([True, False], dtype="|b1"))
    save("be_f4.npy", np.array([1.5, -2.0, 3.25], dtype=">f4"))
    save("scalar.npy", np.array(3.5, dtype="<f4"))
    save("empty.npy", np.zeros((0, 4), dtype="<f4"))
    fortran = np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4))
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    save("fortran.npy", fortran)
    for name, version, array in [("v2.npy", (2, 0), np.arange(6, dtype="<f8").reshape(3, 2) * 0.25),
                                 ("v3.npy", (3, 0), np.array([-3, 0, 5, 1 << 30], dtype="<i4"))]:
        with open(os.path.join(OUT, name), "wb") as f:
            np.lib.format.write_array(f, array, version=version)


if __name__ == "__main__":
    main()
