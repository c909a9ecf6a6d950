#!/usr/bin/env python3
"""Generate the image fixtures for StrataImage's tests (and the ImageNet class list).

Writes into Tests/StrataImageTests/Fixtures/ using Pillow, NumPy and torchvision, so the Swift
decoder and transforms are checked against what PyTorch's data pipeline produces:

    /work/main/.venv/bin/python Scripts/make_image_fixtures.py            # fixtures
    /work/main/.venv/bin/python Scripts/make_image_fixtures.py --classes  # Sources/StrataModels/ImageNetClasses.swift

Files (all small; pixel values seeded)
-----
*.png, *.jpg          tiny images of every PNG colour type / bit depth Pillow (or the minimal
                      encoder below) writes, and JPEGs (4:4:4, 4:2:0, gray, CMYK, progressive)
big_rgb.png           a 300x260 RGB test pattern (stripes, rings, gradient: aliasing shows)
expected.json         {"decode": {file: {width, height, channels, rgb, native}},   PIL's pixels
                       "resize": [{file, channels, width, height, pixels}],       PIL BILINEAR
                       "crop": [...],                                             torchvision CenterCrop
                       "eval": {...},                                             Resize(256)+CenterCrop(224)+
                                                                                  ToTensor+Normalize on big_rgb.png
                       "photos": {name: {...}}}                                   the shared photos (if present)

Pixel arrays are flat HWC lists of ints. "rgb" is Image.open(f).convert("RGB") (torchvision's
ImageFolder loader); "native" is the file's own L or RGB (palette/alpha removed as convert does);
"gray" is convert("L").
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "StrataImageTests", "Fixtures")
PHOTOS = os.path.join(ROOT, "..", "shared", "data", "photos")
rng = np.random.default_rng(20261129)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, array, color_type, bit_depth, interlace=False):
    """A minimal PNG encoder (filter 0) for what Pillow cannot write: 16-bit, 4-bit gray, Adam7 interlacing."""
    h, w = array.shape[:2]
    rows = []
    passes = [array[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7] if interlace else [array]
    for y, row in ((y, p[y]) for p in passes if p.shape[0] and p.shape[1] for y in range(p.shape[0])):
        row = row.reshape(-1)
        if bit_depth == 16:
            raw = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            raw = row.astype(np.uint8).tobytes()
        else:  # pack sub-byte samples, most significant first
            per = 8 // bit_depth
            padded = np.zeros(((len(row) + per - 1) // per) * per, dtype=np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per, dtype=np.uint8)
            for i in range(per):
                packed |= (padded[i::per] << (8 - bit_depth * (i + 1))).astype(np.uint8)
            raw = packed.tobytes()
        rows.append(b"\x00" + raw)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def flat(img):
    return np.asarray(img, dtype=np.uint8).reshape(-1).tolist()


def native(img):
    """The file's own channels after dropping alpha/palette, as StrataImage returns them."""
    if img.mode in ("L", "1"):
        return img.convert("L")
    if img.mode == "LA":
        return img.getchannel("L")
    if img.mode == "I;16":  # 16-bit gray: the high byte (PIL's convert("L") would clip instead)
        return Image.fromarray((np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    return img.convert("RGB")


def decode_entry(path):
    img = Image.open(path)
    img.load()
    n = native(img)
    rgb = n.convert("RGB") if img.mode == "I;16" else img.convert("RGB")
    entry = {"width": img.width, "height": img.height, "mode": img.mode,
             "channels": 1 if n.mode == "L" else 3, "native": flat(n), "rgb": flat(rgb)}
    if img.mode != "I;16":
        entry["gray"] = flat(img.convert("L"))  # PIL's luma, for decode(channels: 1)
    return entry


def pattern(w, h, channels):
    """Smooth gradients, fine stripes and rings plus a little noise: resizing this shows aliasing."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.hypot(x - w / 2, y - h / 2)
    planes = [
        127 + 120 * np.sin(x * 0.9) * np.cos(y * 0.07),
        255 * (x + y) / (w + h),
        127 + 120 * np.sin(r * 0.6),
    ]
    a = np.stack(planes[:channels], axis=-1) + rng.normal(0, 4, (h, w, channels))
    a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return a if channels == 3 else a[..., 0]


def make_images(expected):
    files = {}
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(f := os.path.join(OUT, "rgb_7x5.png")); files["rgb_7x5.png"] = f
    gray = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    Image.fromarray(gray, "L").save(f := os.path.join(OUT, "gray_6x4.png")); files["gray_6x4.png"] = f
    rgba = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(f := os.path.join(OUT, "rgba_5x3.png")); files["rgba_5x3.png"] = f
    la = rng.integers(0, 256, (3, 4, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(f := os.path.join(OUT, "la_4x3.png")); files["la_4x3.png"] = f
    pal = Image.fromarray(rng.integers(0, 16, (5, 6), dtype=np.uint8), "P")
    pal.putpalette(rng.integers(0, 256, 16 * 3, dtype=np.uint8).tolist())
    pal.save(f := os.path.join(OUT, "palette_6x5.png")); files["palette_6x5.png"] = f
    pal.save(f := os.path.join(OUT, "palette_trns_6x5.png"), transparency=3); files["palette_trns_6x5.png"] = f
    bw = Image.fromarray(rng.integers(0, 2, (3, 9), dtype=np.uint8) * 255, "L").convert("1")
    bw.save(f := os.path.join(OUT, "bw1bit_9x3.png")); files["bw1bit_9x3.png"] = f
    write_png(f := os.path.join(OUT, "interlaced_7x5.png"), rgb, 2, 8, interlace=True); files["interlaced_7x5.png"] = f
    # Bit depths Pillow cannot write.
    write_png(f := os.path.join(OUT, "gray4bit_5x3.png"), rng.integers(0, 16, (3, 5)), 0, 4); files["gray4bit_5x3.png"] = f
    write_png(f := os.path.join(OUT, "gray16_4x3.png"), rng.integers(0, 65536, (3, 4)), 0, 16); files["gray16_4x3.png"] = f
    write_png(f := os.path.join(OUT, "rgb16_4x3.png"), rng.integers(0, 65536, (3, 4, 3)), 2, 16); files["rgb16_4x3.png"] = f

    smooth = pattern(16, 16, 3)
    Image.fromarray(smooth).save(f := os.path.join(OUT, "rgb444_16x16.jpg"), quality=95, subsampling=0); files["rgb444_16x16.jpg"] = f
    odd = pattern(19, 13, 3)
    Image.fromarray(odd).save(f := os.path.join(OUT, "rgb420_19x13.jpg"), quality=75, subsampling=2); files["rgb420_19x13.jpg"] = f
    Image.fromarray(odd).save(f := os.path.join(OUT, "progressive_19x13.jpg"), quality=85, progressive=True); files["progressive_19x13.jpg"] = f
    Image.fromarray(pattern(10, 7, 1), "L").save(f := os.path.join(OUT, "gray_10x7.jpg"), quality=90); files["gray_10x7.jpg"] = f
    Image.fromarray(smooth).convert("CMYK").save(f := os.path.join(OUT, "cmyk_16x16.jpg"), quality=95); files["cmyk_16x16.jpg"] = f

    Image.fromarray(pattern(300, 260, 3)).save(os.path.join(OUT, "big_rgb.png"), optimize=True)
    Image.fromarray(pattern(41, 31, 3)).save(os.path.join(OUT, "small_rgb.png"))
    Image.fromarray(pattern(23, 30, 1), "L").save(os.path.join(OUT, "small_gray.png"))
    Image.fromarray(pattern(15, 11, 3)).save(os.path.join(OUT, "tiny_rgb.png"))

    expected["decode"] = {name: decode_entry(path) for name, path in sorted(files.items())}


def make_transforms(expected):
    import torch
    import torchvision.transforms as T
    import torchvision.transforms.functional as F

    small = Image.open(os.path.join(OUT, "small_rgb.png")).convert("RGB")
    gray = Image.open(os.path.join(OUT, "small_gray.png"))
    resize = []
    for name, img in [("small_rgb.png", small), ("small_gray.png", gray)]:
        # down, up, mixed, fractional, to 1 pixel, identity
        for w, h in [(20, 15), (70, 50), (60, 13), (29, 23), (1, 1), (img.width, img.height), (13, 60), (2, 37)]:
            out = img.resize((w, h), Image.BILINEAR)
            resize.append({"file": name, "width": w, "height": h, "pixels": flat(out)})
        for s in [16, 29, 48]:  # T.Resize(s): the shorter side
            out = T.Resize(s, interpolation=T.InterpolationMode.BILINEAR)(img)
            resize.append({"file": name, "shorter": s, "width": out.width, "height": out.height, "pixels": flat(out)})
    expected["resize"] = resize

    crop = []
    tiny = Image.open(os.path.join(OUT, "tiny_rgb.png")).convert("RGB")
    # smaller, same, odd and even differences (Python's round half to even), larger (zero padding)
    for w, h in [(8, 6), (15, 11), (14, 10), (12, 8), (10, 4), (18, 13), (20, 11), (9, 16), (1, 1)]:
        out = T.CenterCrop((h, w))(tiny)
        crop.append({"file": "tiny_rgb.png", "width": w, "height": h, "pixels": flat(out)})
    expected["crop"] = crop

    big = Image.open(os.path.join(OUT, "big_rgb.png")).convert("RGB")
    r = T.Resize(256)(big)
    c = T.CenterCrop(224)(r)
    t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                   T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])(big)
    assert tuple(t.shape) == (3, 224, 224) and t.dtype == torch.float32
    Image.fromarray(np.asarray(c)).save(os.path.join(OUT, "big_rgb_resized256_crop224.png"))
    idx = rng.integers(0, t.numel(), 200)
    expected["eval"] = {
        "file": "big_rgb.png", "resized": [r.width, r.height], "crop_png": "big_rgb_resized256_crop224.png",
        "sum": [float(t[ch].double().sum()) for ch in range(3)],
        "indices": idx.tolist(), "values": [float(v) for v in t.reshape(-1)[idx]],
        "torchvision": __import__("torchvision").__version__, "pillow": Image.__version__,
    }


def make_photos(expected):
    """What PIL decodes from the shared photos (when this checkout has them) and the eval tensor of two."""
    import torchvision.transforms as T
    if not os.path.isdir(PHOTOS):
        print("no shared photos at", PHOTOS, "- skipping")
        return
    out = {}
    names = sorted(n for n in os.listdir(PHOTOS) if n.endswith((".png", ".jpg")))
    names += ["cifar10-test-samples/" + n for n in sorted(os.listdir(os.path.join(PHOTOS, "cifar10-test-samples")))][:4]
    names += ["mnist-test-samples/" + n for n in sorted(os.listdir(os.path.join(PHOTOS, "mnist-test-samples")))][:2]
    prng = np.random.default_rng(7)
    for name in names:
        img = Image.open(os.path.join(PHOTOS, name))
        n = native(img)
        a = np.asarray(n, dtype=np.uint8)
        ch = 1 if a.ndim == 2 else 3
        flat_a = a.reshape(-1)
        idx = prng.integers(0, flat_a.size, 256)
        entry = {"width": img.width, "height": img.height, "channels": ch,
                 "mean": [float(a.reshape(-1, ch)[:, c].astype(np.float64).mean()) for c in range(ch)],
                 "indices": idx.tolist(), "values": flat_a[idx].tolist()}
        if name in ("skimage_chelsea.png", "sklearn_china.jpg", "skimage_camera.png"):
            t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])(img.convert("RGB"))
            ti = prng.integers(0, t.numel(), 200)
            entry["eval"] = {"sum": [float(t[c].double().sum()) for c in range(3)],
                             "indices": ti.tolist(), "values": [float(v) for v in t.reshape(-1)[ti]]}
        out[name] = entry
    expected["photos"] = out


def write_classes():
    from torchvision.models import ResNet50_Weights
    cats = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(cats) == 1000 and len(set(cats)) == 1000
    lines = [
        '// Generated from torchvision 0.29 (`ResNet50_Weights.IMAGENET1K_V1.meta["categories"]`, shipped',
        "// in the torchvision package, the same list for every ImageNet-1k weights enum) by",
        "// Scripts/make_image_fixtures.py --classes. Do not edit.",
        "",
        "/// The 1000 ImageNet-1k (ILSVRC 2012) class names, in torchvision's order: index *i* is",
        '/// the class of output *i* of a model trained on ImageNet-1k (0 = "tench", 999 = "toilet tissue").',
        '/// torchvision made the names unique (134 "crane bird", 517 "crane"; 638 "maillot", 639 "maillot tank suit").',
        "public let imageNetClassNames: [String] = [",
    ] + ["    " + json.dumps(c) + "," for c in cats] + ["]"]
    with open(os.path.join(ROOT, "Sources", "StrataModels", "ImageNetClasses.swift"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    if "--classes" in sys.argv:
        write_classes()
        return
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    make_images(expected)
    make_transforms(expected)
    make_photos(expected)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    for n in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, n)):9d}  {n}")


if __name__ == "__main__":
    main()
