#!/usr/bin/env python3
"""Convert a PyTorch / torchvision checkpoint (.pth) to safetensors for Strata.

Strata's parameter names are torchvision's, so the state dict is copied as it is:

    python3 -m venv .venv && .venv/bin/pip install torch safetensors
    .venv/bin/python Scripts/convert_torchvision.py resnet50-0676ba61.pth resnet50.safetensors
    swift run -c release strata infer --model resnet50 --weights resnet50.safetensors ...

Accepted inputs: a bare state dict, or a training checkpoint holding one under
"state_dict", "model" or "model_state_dict". A "module." prefix (DataParallel) is removed.
Floating tensors are stored as float32 (pass --keep-dtype to keep float16/bfloat16/float64);
integer buffers such as num_batches_tracked stay int64. With --class-names FILE (one name per
line) the names are stored in the metadata as "class_names", which `strata classify` prints.
"""
import argparse
import json
import sys

import torch
from safetensors.torch import save_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="input .pth / .pt file")
    parser.add_argument("output", help="output .safetensors file")
    parser.add_argument("--keep-dtype", action="store_true", help="keep floating dtypes instead of converting to float32")
    parser.add_argument("--class-names", help="text file with one class name per line")
    args = parser.parse_args()

    obj = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        print(f"{args.checkpoint}: expected a state dict of tensors", file=sys.stderr)
        return 1
    tensors = {}
    for name, t in obj.items():
        if name.startswith("module."):
            name = name[len("module."):]
        if t.is_floating_point() and not args.keep_dtype:
            t = t.float()
        tensors[name] = t.contiguous()
    metadata = {"format": "pt", "source": args.checkpoint}
    if args.class_names:
        with open(args.class_names) as f:
            metadata["class_names"] = json.dumps([line.strip() for line in f if line.strip()])
    save_file(tensors, args.output, metadata=metadata)
    print(f"wrote {args.output}: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
