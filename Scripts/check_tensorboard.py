#!/usr/bin/env python3
"""Read a Strata run directory's TensorBoard event files back with TensorBoard itself.

    .venv/bin/pip install tensorboard
    .venv/bin/python Scripts/check_tensorboard.py RUN_DIR

Loads the directory with tensorboard's EventAccumulator (the code `tensorboard --logdir` uses;
its record reader checks every length and data CRC-32C), prints every scalar series, and checks:
the per-epoch tags (loss, accuracy, learning rate, images/s) are present, and their values
equal metrics.jsonl's epoch lines (as float32) at the same steps. Exits 1 on any mismatch.
"""
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    run = sys.argv[1]
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        print(f"no event files in {run}")
        return 1
    print(f"event files: {', '.join(os.path.basename(f) for f in files)}")
    acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in sorted(tags):
        events = acc.Scalars(tag)
        shown = ", ".join(f"{e.step}:{e.value:.6g}" for e in events[:8])
        print(f"  {tag:28s} {len(events):4d} points  {shown}{' ...' if len(events) > 8 else ''}")

    expected = {"loss/train": "train_loss", "loss/validation": "val_loss", "accuracy/train": "train_accuracy",
                "accuracy/validation_top1": "val_top1", "accuracy/validation_top5": "val_top5",
                "learning_rate": "learning_rate", "images_per_second": "images_per_second"}
    failures = []
    missing = [t for t in expected if t not in tags]
    if missing:
        failures.append(f"missing tags: {missing}")
    epochs = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record.get("type") == "epoch":
                epochs.append(record)
    for tag, key in expected.items():
        if tag not in tags:
            continue
        by_step = {e.step: e.value for e in acc.Scalars(tag)}
        for record in epochs:
            got = by_step.get(record["step"])
            want = f32(record[key])
            if got is None or got != want:
                failures.append(f"{tag} at step {record['step']}: event file {got}, metrics.jsonl {want}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"OK: {len(tags)} scalar tags; the {len(epochs)} epoch lines of metrics.jsonl match the event file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
