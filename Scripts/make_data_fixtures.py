#!/usr/bin/env python3
"""Writes the tiny MNIST-layout fixture used by Tests/StrataDataTests (standard library only).

Tests/StrataDataTests/Fixtures/mnist-tiny/
  train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz   6 images of 28x28, gzip level 9, mtime 0
  t10k-images-idx3-ubyte,     t10k-labels-idx1-ubyte       3 images, uncompressed

Pixel k (row-major) of image i is (i * 61 + k * 29 + 7) % 256; the labels are listed below.
The tests recompute both, so the files must be regenerated if this script changes.
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "StrataDataTests", "Fixtures", "mnist-tiny")
TRAIN_LABELS = [3, 1, 4, 1, 5, 9]
TEST_LABELS = [2, 6, 0]


def images(n):
    header = struct.pack(">IIII", 2051, n, 28, 28)
    return header + bytes((i * 61 + k * 29 + 7) % 256 for i in range(n) for k in range(784))


def labels(values):
    return struct.pack(">II", 2049, len(values)) + bytes(values)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": gzip.compress(images(len(TRAIN_LABELS)), compresslevel=9, mtime=0),
        "train-labels-idx1-ubyte.gz": gzip.compress(labels(TRAIN_LABELS), compresslevel=9, mtime=0),
        "t10k-images-idx3-ubyte": images(len(TEST_LABELS)),
        "t10k-labels-idx1-ubyte": labels(TEST_LABELS),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
