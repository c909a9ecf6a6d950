#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (Fuzz/Corpus/TARGET) from the test fixtures plus a few
made-up inputs. Re-run after adding fixtures; libFuzzer grows its own corpus elsewhere (Scripts/fuzz.sh).

  python3 Scripts/make_fuzz_corpus.py [--state RUN_DIR/last.json]   (no third-party packages)
"""
import argparse, json, os, random, shutil, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", help="a checkpoint's last.json to seed checkpoint-state with")
    args = ap.parse_args()
    rng = random.Random(0)
    fixtures = os.path.join(ROOT, "Tests")

    # safetensors: PyTorch's file, a Strata checkpoint's shape with CRC-32C metadata, dtypes.
    put("safetensors", "python.safetensors", open(os.path.join(fixtures, "StrataNNTests/Fixtures/python.safetensors"), "rb").read())
    w = struct.pack("<6f", *[rng.uniform(-1, 1) for _ in range(6)])
    b = struct.pack("<2f", 0.5, -0.5)
    steps = struct.pack("<d", 3.0)
    tensors = {"fc.weight": ("F32", [2, 3], w), "fc.bias": ("F32", [2], b), "optimizer/fc.weight/step": ("F64", [], steps)}
    sums = {k: "%08x" % crc32c(v[2]) for k, v in tensors.items()}
    put("safetensors", "checkpoint.safetensors", safetensors(tensors, {"strata_crc32c": json.dumps(sums), "model": "lenet5"}))
    put("safetensors", "dtypes.safetensors", safetensors({
        "h": ("F16", [2], struct.pack("<2e", 1.0, -2.0)), "bf": ("BF16", [2], b"\x80\x3f\x00\x40"),
        "i": ("I64", [1], struct.pack("<q", 7)), "u": ("U8", [3], b"\x01\x02\x03"), "e": ("F32", [0], b"")}))

    # npy: every fixture.
    for f in sorted(os.listdir(os.path.join(fixtures, "StrataNNTests/Fixtures"))):
        if f.endswith(".npy"):
            put("npy", f, open(os.path.join(fixtures, "StrataNNTests/Fixtures", f), "rb").read())

    # idx: selector byte (even: labels, odd: images) + the tiny MNIST files, raw and gzip.
    mnist = os.path.join(fixtures, "StrataDataTests/Fixtures/mnist-tiny")
    for f in sorted(os.listdir(mnist)):
        put("idx", f, bytes([1 if "images" in f else 0]) + open(os.path.join(mnist, f), "rb").read())

    # cifar: selector (bit 0: CIFAR-100, bit 1: the bytes are also the class-names file) + records.
    ten = b"".join(bytes([rng.randrange(10)]) + bytes(rng.randrange(256) for _ in range(3072)) for _ in range(2))
    hundred = b"".join(bytes([rng.randrange(20), rng.randrange(100)]) + bytes(rng.randrange(256) for _ in range(3072)) for _ in range(2))
    put("cifar", "cifar10-2-records", bytes([0]) + ten)
    put("cifar", "cifar100-2-records", bytes([1]) + hundred)
    put("cifar", "cifar10-names", bytes([2]) + "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]).encode())

    # images: the small decoder fixtures (JPEG baseline/progressive/CMYK/4:2:0, PNG every colour type).
    images = os.path.join(fixtures, "StrataImageTests/Fixtures")
    for f in sorted(os.listdir(images)):
        if f.endswith((".png", ".jpg")) and os.path.getsize(os.path.join(images, f)) <= 4096:
            data = open(os.path.join(images, f), "rb").read()
            put("image-header", f, data)
            put("image-decode", f, data)

    # checkpoint-state: a real last.json when given, else the committed one stays.
    if args.state:
        put("checkpoint-state", "last.json", open(args.state, "rb").read())

    # cli-strings: one string per line, as typed.
    put("cli-strings", "shapes", "3x224x224\n1x32x32\n3X299X299\n32x64x64x56x56\n3×32×32\n")
    put("cli-strings", "models", "resnet50\ndensenet_bc_100_k12\ndensenet_bc_190_k40\ninception_v3\nlenet5\n")
    put("cli-strings", "bad", "0x1x1\n-3x4x4\n3x4\n99999999999999999999x1x1\ndensenet_bc_7_k12\n")


if __name__ == "__main__":
    main()
