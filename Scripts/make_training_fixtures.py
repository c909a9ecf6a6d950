#!/usr/bin/env python3
"""Worked values for StrataTraining's optimizers and schedules, computed with PyTorch.

    /path/to/.venv/bin/python Scripts/make_training_fixtures.py   # writes Tests/StrataTrainingTests/Fixtures/training.json

Cases (all in float64 unless noted, so Strata can be compared to ~1e-12):
- adamw_*: torch.optim.AdamW on two parameters (one decayed, one not), fixed gradients per step;
  the parameters after every step. One float32 case.
- sgd_*: torch.optim.SGD with momentum/Nesterov/weight decay.
- schedule_*: the learning rate each optimizer step uses (read before optimizer.step(), then
  scheduler.step()), for MultiStepLR, LinearLR→CosineAnnealingLR (SequentialLR), OneCycleLR
  (defaults: cosine, 30% rising, div 25, final div 1e4, momentum 0.95→0.85→0.95),
  LinearLR×MultiStepLR (ChainedScheduler) and LinearLR alone (warmup to a constant).
- clip: torch.nn.utils.clip_grad_norm_.
"""
import json
import math
import os
import warnings

import torch

warnings.filterwarnings("ignore")
torch.manual_seed(0)
cases = []


def grads_at(step, shapes, dtype):
    # Deterministic gradients that change sign and scale from step to step.
    out = []
    for k, n in enumerate(shapes):
        g = [math.sin(0.7 * (i + 1) * (step + 1) + k) * (1 + 0.5 * k) for i in range(n)]
        out.append(torch.tensor(g, dtype=dtype))
    return out


def run_optimizer(name, make, steps, dtype, lrs=None):
    init = [[0.5, -1.25, 2.0, 0.1, -0.3], [0.2, -0.7, 1.5]]
    params = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in init]
    opt = make(params)
    history = []
    grads = []
    for s in range(steps):
        g = grads_at(s, [len(v) for v in init], dtype)
        for p, gi in zip(params, g):
            p.grad = gi.clone()
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[s]
        opt.step()
        grads.append([gi.tolist() for gi in g])
        history.append([p.detach().tolist() for p in params])
    return {"name": name, "kind": "optimizer", "dtype": str(dtype).replace("torch.", ""), "init": init,
            "grads": grads, "params": history, "lrs": lrs}


# AdamW: first parameter decayed, second not (as Strata's "no decay on 1-D"), via param groups.
def adamw(betas, eps, wd, lr):
    def make(params):
        return torch.optim.AdamW([{"params": [params[0]], "weight_decay": wd}, {"params": [params[1]], "weight_decay": 0.0}],
                                 lr=lr, betas=betas, eps=eps)
    return make


c = run_optimizer("adamw_default", adamw((0.9, 0.999), 1e-8, 0.01, 0.01), 6, torch.float64)
c.update(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01)
cases.append(c)
c = run_optimizer("adamw_custom", adamw((0.6, 0.95), 1e-3, 0.2, 0.05), 6, torch.float64,
                  lrs=[0.05, 0.04, 0.03, 0.02, 0.05, 0.01])
c.update(lr=0.05, beta1=0.6, beta2=0.95, eps=1e-3, weight_decay=0.2)
cases.append(c)
c = run_optimizer("adamw_float32", adamw((0.9, 0.999), 1e-8, 0.05, 0.003), 5, torch.float32)
c.update(lr=0.003, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05)
cases.append(c)


def sgd(momentum, nesterov, wd, lr):
    def make(params):
        return torch.optim.SGD([{"params": [params[0]], "weight_decay": wd}, {"params": [params[1]], "weight_decay": 0.0}],
                               lr=lr, momentum=momentum, nesterov=nesterov)
    return make


c = run_optimizer("sgd_nesterov", sgd(0.9, True, 5e-4, 0.1), 5, torch.float64, lrs=[0.1, 0.2, 0.05, 0.1, 0.3])
c.update(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
cases.append(c)
c = run_optimizer("sgd_plain", sgd(0.0, False, 1e-2, 0.1), 3, torch.float64)
c.update(lr=0.1, momentum=0.0, nesterov=False, weight_decay=1e-2)
cases.append(c)


def schedule_case(name, make_sched, steps, base_lr, params, momentum=0.9, record_momentum=False):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr, momentum=momentum)
    sched = make_sched(opt)
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        p.grad = torch.ones(1)
        opt.step()
        sched.step()
    case = {"name": name, "kind": "schedule", "steps": steps, "base_lr": base_lr, "lrs": lrs}
    case.update(params)
    if record_momentum:
        case["momentums"] = moms
    cases.append(case)


schedule_case("schedule_multistep", lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[5, 8], gamma=0.1), 12, 0.1,
              {"schedule": "multistep", "milestones": [5, 8], "gamma": 0.1})
schedule_case("schedule_multistep_gamma", lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 4, 6], gamma=0.5), 8, 0.4,
              {"schedule": "multistep", "milestones": [2, 4, 6], "gamma": 0.5})
W, T = 4, 20
schedule_case("schedule_cosine_warmup", lambda o: torch.optim.lr_scheduler.SequentialLR(
    o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / W, end_factor=1.0, total_iters=W - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T - W)], milestones=[W]), T, 0.2,
    {"schedule": "cosine", "warmup": W, "total": T})
schedule_case("schedule_cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15), 15, 0.1,
              {"schedule": "cosine", "warmup": 0, "total": 15})
schedule_case("schedule_onecycle", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=25), 25, 0.1,
              {"schedule": "onecycle", "total": 25}, record_momentum=True)
schedule_case("schedule_onecycle_pct", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=40, pct_start=0.1),
              40, 0.4, {"schedule": "onecycle", "total": 40, "pct_start": 0.1}, record_momentum=True)
schedule_case("schedule_multistep_warmup", lambda o: torch.optim.lr_scheduler.ChainedScheduler(
    [torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 3, end_factor=1.0, total_iters=2),
     torch.optim.lr_scheduler.MultiStepLR(o, milestones=[6, 9], gamma=0.1)]), 12, 0.1,
    {"schedule": "multistep_warmup", "warmup": 3, "milestones": [6, 9], "gamma": 0.1})
schedule_case("schedule_constant_warmup", lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 5, end_factor=1.0, total_iters=4),
              9, 0.3, {"schedule": "constant_warmup", "warmup": 5})

# Gradient clipping.
g1 = torch.tensor([3.0, -4.0, 1.0], dtype=torch.float64)
g2 = torch.tensor([[0.5, 2.0], [-1.0, 0.25]], dtype=torch.float64)
for max_norm in [1.0, 100.0]:
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    a.grad, b.grad = g1.clone(), g2.clone()
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
    cases.append({"name": f"clip_{max_norm}", "kind": "clip", "max_norm": max_norm, "clip_grads": [g1.tolist(), g2.flatten().tolist()],
                  "norm": float(norm), "clipped": [a.grad.tolist(), b.grad.flatten().tolist()]})

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "StrataTrainingTests", "Fixtures", "training.json")
with open(out, "w") as f:
    json.dump({"generator": "Scripts/make_training_fixtures.py", "torch": torch.__version__, "cases": cases}, f, indent=None)
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")
