"""PyTorch side of the training-step benchmark (bench/train-step/run.sh), dev time only: the SAME model
(tools/train-bench/onnx_torch_train.py over robustscope's dump) and the SAME recipe as
bench/train-step/train-step.mjs, in eager PyTorch:

  attack  : model.eval(); PGD on the per-image ce-avg (summed), eps 4/255, 2 steps of 0.01, zero init,
            x <- clip(x + 0.01 * sign(g), x0 +- eps, [0, 1]), last iterate (torch.autograd.grad w.r.t. the image)
  train   : model.train(); per-image ce-avg(logits) + 0.4 * ce-avg(aux_logits) (when the model has one),
            batch mean, zero_grad(set_to_none) + backward (BatchNorm on batch statistics, running stats updated)
  optim   : torch.optim.AdamW(lr 1e-3, wd 1e-2), robustscope's no-decay set (roles 'norm' and 'bias')

ce-avg (robustscope src/losses/ce.ts): per image, the mean over ALL pixels of the cross-entropy, ignored
(255) pixels contributing 0. Before training, the eval-mode logits are compared with robustscope's
(--ref-logits), and the result records the max abs difference.

  python3 tools/train-bench/train_step.py --dump DIR --meta META.json --data DATA --out R.json
      [--ref-logits L.bin] [--batch 8] [--warmup 3] [--reps 10] [--threads 2]
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch_train import OnnxTrainable  # noqa: E402

EPS, STEPS, STEP_SIZE, IGNORE, AUX_W = 4 / 255, 2, 0.01, 255, 0.4


def load_batch(data, b):
    names = sorted(os.listdir(os.path.join(data, "images")))[:b]
    if len(names) < b:
        raise SystemExit(f"{data}/images has {len(names)} images, fewer than the batch {b}")
    # float64 division then float32, as robustscope's hwcToChw01 (v / 255 in double, stored as float32).
    xs = [(np.asarray(Image.open(os.path.join(data, "images", n)).convert("RGB")).transpose(2, 0, 1) / 255.0).astype(np.float32)
          for n in names]
    ys = [np.asarray(Image.open(os.path.join(data, "labels", n))).astype(np.int64) for n in names]
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def ce_avg(logits, y):
    """Per-image mean over all pixels of the CE; ignored pixels contribute 0."""
    return F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="none").mean(dim=(1, 2))


def attack(model, x0, y):
    model.eval()
    lo, hi = (x0 - EPS).clamp(min=0), (x0 + EPS).clamp(max=1)
    x = x0.clone()
    for _ in range(STEPS):
        xv = x.clone().requires_grad_(True)
        loss = ce_avg(model(xv, ["logits"])["logits"], y).sum()
        (g,) = torch.autograd.grad(loss, xv)
        x = torch.minimum(torch.maximum(x + STEP_SIZE * g.sign(), lo), hi)
    return x.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref-logits")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's op table of the timed steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    meta = json.load(open(args.meta))
    has_aux = "aux_logits" in meta["outputs"]
    heads = ["logits", "aux_logits"] if has_aux else ["logits"]
    model = OnnxTrainable(args.dump, outputs=heads)
    named = model.named_onnx_parameters()
    if sorted(n for n, _ in named) != sorted(meta["roles"]):
        raise SystemExit("the PyTorch rebuild's parameters differ from robustscope's parameterInfo()")
    n_params = sum(p.numel() for _, p in named)
    no_decay = [p for n, p in named if meta["roles"][n] in ("norm", "bias")]
    decay = [p for n, p in named if meta["roles"][n] not in ("norm", "bias")]
    opt = torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, weight_decay=1e-2)
    x, y = load_batch(args.data, args.batch)

    check = None
    model.eval()
    with torch.no_grad():
        logits = model(x, ["logits"])["logits"]
    if args.ref_logits:
        ref = np.fromfile(args.ref_logits, dtype=np.float32)
        if ref.size != logits.numel():
            raise SystemExit(f"reference logits have {ref.size} values, PyTorch {logits.numel()}")
        diff = float(np.abs(ref - logits.numpy().reshape(-1)).max())
        scale = float(np.abs(ref).max())
        check = {"maxAbsDiff": diff, "maxAbsLogit": scale, "ok": diff <= 1e-4 * max(1.0, scale)}

    steps = []
    faults0 = 0
    prof = None
    for s in range(args.warmup + args.reps):
        if s == args.warmup:
            faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            if args.profile:
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                prof.__enter__()
        ca = time.process_time()
        ta = time.perf_counter()
        x_adv = attack(model, x, y)
        tb = time.perf_counter()
        model.train()
        out = model(x_adv, heads)
        per_image = ce_avg(out["logits"], y)
        if has_aux:
            per_image = per_image + AUX_W * ce_avg(out["aux_logits"], y)
        loss = per_image.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tc = time.perf_counter()
        opt.step()
        td = time.perf_counter()
        cd = time.process_time()
        steps.append({"warmup": s < args.warmup, "total": (td - ta) * 1e3, "attack": (tb - ta) * 1e3,
                      "train": (tc - tb) * 1e3, "optim": (td - tc) * 1e3, "cpu": (cd - ca) * 1e3, "loss": float(loss)})

    if prof is not None:
        prof.__exit__(None, None, None)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    faults_per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / args.reps
    timed = [s for s in steps if not s["warmup"]]

    def stat(k):
        v = [s[k] for s in timed]
        return {"median": float(np.median(v)), "min": float(min(v))}

    result = {
        "engine": "pytorch",
        "model": args.dump,
        "batch": list(x.shape),
        "threads": torch.get_num_threads(),
        "aux": has_aux,
        "params": n_params,
        "warmup": args.warmup,
        "reps": args.reps,
        "ms": {k: stat(k) for k in ("total", "attack", "train", "optim", "cpu")},
        "firstStepMs": steps[0]["total"],
        "faultsPerStep": faults_per_step,
        "malloc": {k: os.environ[k] for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD") if k in os.environ},
        "logitsCheck": check,
        "losses": [s["loss"] for s in steps],
        "steps": steps,
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
    }
    json.dump(result, open(args.out, "w"), indent=1)
    m = result["ms"]
    tag = "pytorch+malloc" if result["malloc"] else "pytorch"
    print(f"{tag} {meta['arch']}: {m['total']['median']:.1f} ms/step median (min {m['total']['min']:.1f}; attack "
          f"{m['attack']['median']:.1f}, train {m['train']['median']:.1f}, optim {m['optim']['median']:.1f}), "
          f"RSS {result['maxRssMB']:.0f} MB" + (f", logits max|diff| {check['maxAbsDiff']:.2e}" if check else ""))
    if check and not check["ok"]:
        print(f"logits check FAILED: max |diff| {check['maxAbsDiff']:.3e} (max |logit| {check['maxAbsLogit']:.2f})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
