#!/usr/bin/env python3
"""Strata vs PyTorch (eager, NCHW and channels_last) vs ONNX Runtime, side by side.

For every case the frameworks run back to back (interleaved, in one run), each in a
child process of its own with the same thread count:

  Strata        `strata bench --json --model M --mode X --batch B --iterations N`
                with STRATA_NUM_THREADS=T (and --threads T)
  PyTorch       torch.set_num_threads(T); eager; NCHW and channels_last
  ONNX Runtime  intra_op_num_threads=T, inter_op_num_threads=1, ORT_ENABLE_ALL;
                inference only; the torchvision model exported with torch.onnx.export
                (cached under Benchmarks/.cache)

Inference uses torchvision's architectures (random weights, eval mode, no grad) at
224x224. Training steps (forward + cross-entropy + backward + SGD momentum 0.9,
weight decay 1e-4, lr 0.01) use the same CIFAR ResNet / DenseNet-BC definitions as
Strata (Scripts/strata_reference_models.py) and torchvision's resnet50 at 224x224.
Each framework does W warm-up iterations, then N timed ones; the figure is the median.
Peak RSS is each child process's own (getrusage(RUSAGE_SELF).ru_maxrss at its end, interpreter
and imports included; for Strata, `strata bench`'s peak_rss_mib of its per-case child).

The orchestrator needs only the Python standard library; the workers run in a venv
(created and filled from PyPI when missing: torch, torchvision, onnxruntime, onnx,
onnxscript). Examples:

  python3 Benchmarks/compare.py                       # every case, own venv
  python3 Benchmarks/compare.py --quick               # 3 cases, fewer iterations
  python3 Benchmarks/compare.py --venv /path/.venv --cases resnet18:i:32,resnet20:t:128
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (model, mode, batch) — the cases of `strata bench`.
ALL_CASES = (
    [(m, "inference", b) for m in ("resnet18", "resnet50", "densenet121", "googlenet", "vgg16") for b in (1, 32)]
    + [("resnet20", "training", 128), ("resnet56", "training", 128),
       ("densenet_bc_100", "training", 64), ("resnet50", "training", 32)]
)
QUICK_CASES = [("resnet18", "inference", 32), ("resnet20", "training", 128), ("resnet50", "inference", 1)]
FRAMEWORKS = ["strata", "torch", "torch_cl", "ort"]
LABELS = {"strata": "Strata", "torch": "PyTorch NCHW", "torch_cl": "PyTorch channels_last", "ort": "ONNX Runtime"}
PACKAGES = {"torch": "torch", "torchvision": "torchvision", "onnxruntime": "onnxruntime", "onnx": "onnx",
            "onnxscript": "onnxscript"}


# ----------------------------------------------------------------------------- workers
# These run inside the venv, one case per process.

def _input_shape(model):
    return (3, 32, 32) if model in ("resnet20", "resnet56", "densenet_bc_100") else (3, 224, 224)


def _classes(model):
    return 10 if model in ("resnet20", "resnet56", "densenet_bc_100") else 1000


def _torch_model(name):
    import torch  # noqa: F401
    import torchvision.models as tvm
    sys.path.insert(0, os.path.join(ROOT, "Scripts"))
    import strata_reference_models as ref
    if name == "resnet20":
        return ref.cifar_resnet(20)
    if name == "resnet56":
        return ref.cifar_resnet(56)
    if name == "densenet_bc_100":
        return ref.densenet_bc(100, 12)
    if name == "googlenet":
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True)
    return getattr(tvm, name)(weights=None)


def _time(step, warmup, iterations):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker_torch(a, channels_last):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = _torch_model(a.model)
    x = torch.randn((a.batch,) + _input_shape(a.model))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    if a.mode == "inference":
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    else:
        model.train()
        y = torch.arange(a.batch) % _classes(a.model)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return _time(step, a.warmup, a.iterations)


def worker_export(a):
    """Exports the torchvision model (eval mode, fixed batch) to a.onnx."""
    import torch
    import warnings
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = _torch_model(a.model).eval()
    x = torch.randn((a.batch,) + _input_shape(a.model))
    tmp = a.onnx + ".tmp"
    try:   # the TorchScript exporter: quick, and one self-contained file
        torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"], do_constant_folding=True)
    except Exception as e:  # noqa: BLE001 — exporter removed or failing: the dynamo one
        print(f"TorchScript ONNX export failed ({e}); using dynamo=True", file=sys.stderr)
        torch.onnx.export(model, (x,), tmp, dynamo=True, external_data=False,
                          input_names=["input"], output_names=["logits"])
    os.replace(tmp, a.onnx)
    return 0.0


def worker_ort(a):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # ORT's own thread pool spins unless told not to; match the OpenMP wait policy of the others.
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if a.wait_policy == "active" else "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((a.batch,) + _input_shape(a.model), dtype=np.float32)
    return _time(lambda: sess.run(None, {name: x}), a.warmup, a.iterations)


def worker_main(a):
    import resource
    if a.worker == "torch":
        median = worker_torch(a, channels_last=False)
    elif a.worker == "torch_cl":
        median = worker_torch(a, channels_last=True)
    elif a.worker == "ort":
        median = worker_ort(a)
    elif a.worker == "export":
        median = worker_export(a)
    else:
        raise SystemExit(f"unknown worker {a.worker}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds_per_batch": median, "peak_rss_mib": rss}))


# ------------------------------------------------------------------------ orchestrator

def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def ensure_venv(venv, torch_index_url):
    py = venv_python(venv)
    if not os.path.exists(py):
        print(f"creating venv {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "--upgrade", "pip"], check=True)
    missing = [pkg for mod, pkg in PACKAGES.items()
               if subprocess.run([py, "-c", f"import {mod}"], capture_output=True).returncode != 0]
    if missing:
        print(f"installing into {venv}: {' '.join(missing)}", file=sys.stderr)
        torch_pkgs = [p for p in missing if p in ("torch", "torchvision")]
        other = [p for p in missing if p not in torch_pkgs]
        if torch_pkgs:
            extra = ["--index-url", torch_index_url] if torch_index_url else []
            subprocess.run([py, "-m", "pip", "install", *torch_pkgs, *extra], check=True)
        if other:
            subprocess.run([py, "-m", "pip", "install", *other], check=True)
    return py


def run_child(cmd, env, timeout):
    """Runs cmd; returns (last stdout line parsed as JSON, peak RSS MiB from wait4) or raises."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}")
    # communicate() reaps the child and folds its rusage into RUSAGE_CHILDREN, a maximum over all
    # children so far that cannot be split per child: each worker reports its own ru_maxrss instead.
    lines = [line for line in out.splitlines() if line.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(cmd)}\n{err[-2000:]}")
    return json.loads(lines[-1])


def parse_cases(spec):
    cases = []
    for item in spec.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3:
            raise SystemExit(f"--cases: expected model:mode:batch (mode i/inference or t/training), got '{item}'")
        model, mode, batch = parts
        mode = {"i": "inference", "t": "training"}.get(mode, mode)
        if mode not in ("inference", "training"):
            raise SystemExit(f"--cases: mode must be inference/i or training/t, got '{parts[1]}'")
        cases.append((model, mode, int(batch)))
    return cases


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--venv", default=os.path.join(HERE, ".venv"),
                    help="venv for PyTorch/ONNX Runtime (created and filled when missing; default Benchmarks/.venv)")
    ap.add_argument("--torch-index-url", default=None,
                    help="pip index for torch/torchvision (default PyPI; e.g. https://download.pytorch.org/whl/cpu)")
    ap.add_argument("--strata", default=os.path.join(ROOT, ".build", "release", "strata"),
                    help="the strata executable (built with `swift build -c release` when missing)")
    ap.add_argument("--cases", help="comma-separated model:mode:batch, e.g. resnet18:i:32,resnet20:t:128 "
                                    "(default: all of strata bench's cases; with --quick: " +
                    ",".join(f"{m}:{md[0]}:{b}" for m, md, b in QUICK_CASES) + ")")
    ap.add_argument("--quick", action="store_true", help="fewer iterations (3 timed, 2 warm-up), and the quick cases "
                                                         "unless --cases is given")
    ap.add_argument("--iterations", type=int, help="timed iterations per framework and case (default 10; --quick 3)")
    ap.add_argument("--warmup", type=int, help="warm-up iterations (default 2; Strata always does 1)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the whole interleaved sequence R times and keep each framework's best round "
                         "(default 1; on a shared machine 2-3 make the ratios steadier)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every framework (default: all cores)")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="subset of " + ",".join(FRAMEWORKS))
    ap.add_argument("--wait-policy", choices=["passive", "active"], default="passive",
                    help="how idle worker threads wait, for every framework: OMP_WAIT_POLICY for Strata and PyTorch, "
                         "session.intra_op.allow_spinning for ONNX Runtime (default passive, Strata's own default: "
                         "spinning threads lose badly when other processes share the cores)")
    ap.add_argument("--max-isa", metavar="ISA", help="cap the instruction set, e.g. AVX2 on an AVX-512 machine: "
                    "DNNL_MAX_CPU_ISA for Strata, DNNL_MAX_CPU_ISA/ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS "
                    "for PyTorch (ONNX Runtime's MLAS has no such switch: on a real AVX2 machine all agree)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per child process")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH ('-' for stdout)")
    # internal: one measurement in this process
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker_main(a)

    iterations = a.iterations or (3 if a.quick else 10)
    warmup = a.warmup if a.warmup is not None else 2
    cases = parse_cases(a.cases) if a.cases else (QUICK_CASES if a.quick else ALL_CASES)
    frameworks = [f.strip() for f in a.frameworks.split(",") if f.strip()]
    for f in frameworks:
        if f not in FRAMEWORKS:
            raise SystemExit(f"--frameworks: unknown '{f}' (known: {', '.join(FRAMEWORKS)})")

    py = ensure_venv(os.path.abspath(a.venv), a.torch_index_url) if set(frameworks) - {"strata"} else None
    if "strata" in frameworks and not os.path.exists(a.strata):
        print("building strata (swift build -c release)", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True)

    env = dict(os.environ)
    t = str(a.threads)
    env.update(STRATA_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t,
               OMP_WAIT_POLICY=a.wait_policy.upper())
    # Strata's default (set when it starts without OMP_WAIT_POLICY): a short spin before sleeping.
    # PyTorch's wheels use the same libgomp, so both get it; ONNX Runtime has its own thread pool.
    if a.wait_policy == "passive":
        env.setdefault("GOMP_SPINCOUNT", "10000")
    else:
        env.pop("GOMP_SPINCOUNT", None)
    if a.max_isa:
        env.update(DNNL_MAX_CPU_ISA=a.max_isa.upper(), ONEDNN_MAX_CPU_ISA=a.max_isa.upper(),
                   MKL_ENABLE_INSTRUCTIONS=a.max_isa.upper())
    cache = os.path.join(HERE, ".cache")
    os.makedirs(cache, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(f"{started}; {a.threads} threads; {iterations} timed iterations after {warmup} warm-up; "
          f"wait policy {a.wait_policy}; frameworks {', '.join(frameworks)}", file=sys.stderr)

    def measure(model, mode, batch, fw):
        """One child process: (images/s, peak RSS MiB, extra fields) or (None, None, {})."""
        common = ["--model", model, "--mode", mode, "--batch", str(batch), "--threads", t, "--wait-policy", a.wait_policy,
                  "--iterations", str(iterations), "--warmup", str(warmup)]
        try:
            if fw == "strata":
                r = run_child([a.strata, "bench", "--json", "--model", model, "--mode", mode, "--batch", str(batch),
                               "--iterations", str(iterations), "--threads", t], env, a.timeout)
                return r["images_per_second"], r["peak_rss_mib"], {"strata_gflops": r.get("gflops"), "strata_isa": r.get("isa")}
            if fw == "ort":
                onnx = os.path.join(cache, f"{model}_b{batch}.onnx")
                if not os.path.exists(onnx):
                    run_child([py, __file__, "--worker", "export", "--onnx", onnx, *common], env, a.timeout)
                r = run_child([py, __file__, "--worker", "ort", "--onnx", onnx, *common], env, a.timeout)
            else:
                r = run_child([py, __file__, "--worker", fw, *common], env, a.timeout)
            return batch / r["seconds_per_batch"], r["peak_rss_mib"], {}
        except RuntimeError as e:
            print(f"{model} {mode} b{batch} {LABELS[fw]} failed: {e}", file=sys.stderr)
            return None, None, {}

    rows = [{"model": m, "mode": md, "batch": b, "threads": a.threads, "iterations": iterations, "rounds": a.rounds}
            for m, md, b in cases]
    samples = {}   # (row index, framework) -> [images/s per round]
    for rnd in range(a.rounds):
        for i, (model, mode, batch) in enumerate(cases):
            for fw in frameworks:
                if fw == "ort" and mode != "inference":
                    continue
                ips, rss, extra = measure(model, mode, batch, fw)
                row = rows[i]
                if ips is not None:
                    samples.setdefault((i, fw), []).append(ips)
                    row.setdefault(f"{fw}_rounds", []).append(round(ips, 2))
                    row[f"{fw}_peak_rss_mib"] = max(rss, row.get(f"{fw}_peak_rss_mib") or 0)
                    for k, v in extra.items():
                        row[k] = v if ips == max(samples[(i, fw)]) else row.get(k, v)
                print(f"  round {rnd + 1}: {model} {mode} b{batch} {LABELS[fw]}: {fmt(ips)} img/s, "
                      f"peak RSS {fmt(rss, 0)} MiB", file=sys.stderr, flush=True)
    for i, row in enumerate(rows):
        for fw in frameworks:
            v = samples.get((i, fw))
            row[f"{fw}_images_per_second"] = max(v) if v else None   # best round: least disturbed by neighbours
        s = row.get("strata_images_per_second")
        o = row.get("ort_images_per_second")
        pts = [v for v in (row.get("torch_images_per_second"), row.get("torch_cl_images_per_second")) if v]
        row["ratio_vs_ort"] = s / o if s and o else None
        row["ratio_vs_best_pytorch"] = s / max(pts) if s and pts else None
        prss = [v for v in (row.get("torch_peak_rss_mib"), row.get("torch_cl_peak_rss_mib")) if v]
        row["rss_ratio_vs_pytorch"] = row["strata_peak_rss_mib"] / min(prss) \
            if row.get("strata_peak_rss_mib") and prss else None

    machine = {"cpu": cpu_model(), "cpu_avx512": cpu_has("avx512f"), "max_isa": a.max_isa,
               "strata_isa": next((r["strata_isa"] for r in rows if r.get("strata_isa")), None)}
    for row in rows:
        row.update(machine)
    print_table(rows, started, a.threads, iterations, a.rounds, machine)
    if a.json:
        text = json.dumps(rows, indent=1)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has(flag):
    return flag in cpu_flags()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_table(rows, started, threads, iterations, rounds, machine):
    best = f", best of {rounds} interleaved rounds" if rounds > 1 else ""
    cap = f", capped with --max-isa {machine['max_isa']}" if machine["max_isa"] else ""
    print(f"\nimages/s ({started}; {threads} threads; median of {iterations} after warm-up{best}; "
          "ratios are Strata ÷ peer, > 1 means Strata is faster)\n")
    print(f"CPU: {machine['cpu']} ({'AVX-512' if machine['cpu_avx512'] else 'no AVX-512'}{cap}); "
          f"Strata's oneDNN ISA: {machine['strata_isa'] or 'not measured'}\n")
    print("| case | Strata | PyTorch NCHW | PyTorch channels_last | ONNX Runtime | vs ORT | vs best PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        case = f"{r['model']} {r['mode']} b{r['batch']}"
        print(f"| {case} | {fmt(r.get('strata_images_per_second'))} | {fmt(r.get('torch_images_per_second'))} | "
              f"{fmt(r.get('torch_cl_images_per_second'))} | {fmt(r.get('ort_images_per_second'))} | "
              f"{fmt(r['ratio_vs_ort'], 2)} | {fmt(r['ratio_vs_best_pytorch'], 2)} |")
    print("\npeak RSS, MiB (each case in a child process; ratio is Strata ÷ the smaller PyTorch figure)\n")
    print("| case | Strata | PyTorch NCHW | PyTorch channels_last | ONNX Runtime | Strata ÷ PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        case = f"{r['model']} {r['mode']} b{r['batch']}"
        mark = " (target ≤ 0.70)" if (r["model"], r["mode"]) == ("resnet50", "training") else ""
        print(f"| {case} | {fmt(r.get('strata_peak_rss_mib'), 0)} | {fmt(r.get('torch_peak_rss_mib'), 0)} | "
              f"{fmt(r.get('torch_cl_peak_rss_mib'), 0)} | {fmt(r.get('ort_peak_rss_mib'), 0)} | "
              f"{fmt(r['rss_ratio_vs_pytorch'], 2)}{mark} |")


if __name__ == "__main__":
    sys.exit(main())
