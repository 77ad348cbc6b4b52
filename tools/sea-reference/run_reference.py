"""Runs the REFERENCE SEA (nmndeep/Robust-Segmentation, semseg/attacker.py, imported from a local
checkout at dev time, never copied into robustscope) on a robustscope-format dataset and an ONNX model
rebuilt in PyTorch (tools/train-bench/onnx_torch_train.py), and writes the numbers robustscope's comparison needs (bench/sea-reference/).

The reference pipeline reproduced here (tools/infer.py of the reference):
  for each loss in (mask-ce-bal, mask-ce-avg, js-avg):
      apgd_largereps(norm Linf, n_iter, use_rs=True, track_loss 'ce-avg', early_stop=True)
  -> predictions at the returned points; worst-case accuracy = mean over images of the minimum
  per-image accuracy over the three attacks (worse_case_eval); worst-case mIoU = the reference's
  image-wise attack-selection search (worst_case_miou: start from mask-ce-bal, shuffled rounds with
  random.seed(225), accept a switch when it lowers the dataset mIoU, stop when a round gains <= 1e-6).
The reference only supports ignore_index = -1, so label 255 is mapped to -1.

Usage (dev time, Debian's PyTorch):
  /usr/bin/python3 tools/sea-reference/run_reference.py --reference /tmp/rs --model-dump DIR \
      --data DIR --class-weights W.json --eps 1,4,8 --iters 300 --batch 8 --threads 2 --out OUT.json
"""

import argparse
import importlib.util
import json
import os
import random
import resource
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train-bench"))
from onnx_torch_train import OnnxTrainable  # noqa: E402


class OnnxAsTorch(nn.Module):
    """The dumped ONNX model as a frozen PyTorch module returning its logits (what the reference attacks)."""

    def __init__(self, dump_dir):
        super().__init__()
        self.net = OnnxTrainable(dump_dir)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return next(iter(self.net(x).values()))

LOSSES = ["mask-ce-bal", "mask-ce-avg", "js-avg"]

# The reference imports four helpers from the autoattack package (not installed here); these are
# our own minimal equivalents with the same meaning (per-example norms, a logger).
AUTOATTACK_SHIM = '''
import torch
def _flat(x):
    return x.reshape(x.shape[0], -1)
def L0_norm(x):
    return (_flat(x) != 0.).sum(-1)
def L1_norm(x, keepdim=False):
    z = _flat(x).abs().sum(-1)
    return z.view(-1, *[1] * (len(x.shape) - 1)) if keepdim else z
def L2_norm(x, keepdim=False):
    z = (_flat(x) ** 2).sum(-1).sqrt()
    return z.view(-1, *[1] * (len(x.shape) - 1)) if keepdim else z
class Logger:
    def __init__(self, log_path=None):
        self.log_path = log_path
    def log(self, s):
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(str(s) + "\\n")
'''


def import_reference(root):
    shim = tempfile.mkdtemp(prefix="aa-shim-")
    os.makedirs(os.path.join(shim, "autoattack"))
    open(os.path.join(shim, "autoattack", "__init__.py"), "w").close()
    with open(os.path.join(shim, "autoattack", "other_utils.py"), "w") as f:
        f.write(AUTOATTACK_SHIM)
    sys.path.insert(0, shim)
    path = os.path.join(root, "semseg", "attacker.py")
    spec = importlib.util.spec_from_file_location("reference_attacker", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_folder(folder, limit):
    names = sorted(os.listdir(os.path.join(folder, "images")))[:limit]
    xs, ys = [], []
    for n in names:
        xs.append(np.asarray(Image.open(os.path.join(folder, "images", n)).convert("RGB")))
        stem = os.path.splitext(n)[0]
        ys.append(np.asarray(Image.open(os.path.join(folder, "labels", stem + ".png"))))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div(255).contiguous()
    y = torch.from_numpy(np.stack(ys).astype(np.int64))
    y[y == 255] = -1
    return names, x, y


def per_image_stats(pred, y, k):
    """intersection / union per class and correct / labelled per image (ignore = -1 excluded)."""
    n = y.shape[0]
    inter = torch.zeros(n, k, dtype=torch.float64)
    union = torch.zeros(n, k, dtype=torch.float64)
    correct = torch.zeros(n, dtype=torch.float64)
    labelled = torch.zeros(n, dtype=torch.float64)
    for i in range(n):
        valid = y[i] != -1
        p = pred[i][valid]
        t = y[i][valid]
        correct[i] = (p == t).sum()
        labelled[i] = valid.sum()
        for c in range(k):
            tc, pc = t == c, p == c
            inter[i, c] = (tc & pc).sum()
            union[i, c] = (tc | pc).sum()
    return inter, union, correct, labelled


def miou(inter, union):
    keep = union > 0
    return float((inter[keep] / union[keep]).mean())


def worst_case_miou_search(inters, unions, seed=225, rounds=1000):
    """The reference's image-wise selection search (tools/worse_only.py, worst_case_miou)."""
    a, n, _ = inters.shape
    rng = random.Random(seed)
    sel = [0] * n
    run_i = inters[0].sum(0).clone()
    run_u = unions[0].sum(0).clone()
    best = miou(run_i, run_u)
    prev = 10.0
    for _ in range(rounds):
        order = list(range(n))
        rng.shuffle(order)
        for idx in order:
            for att in range(a):
                ni = run_i + inters[att, idx] - inters[sel[idx], idx]
                nu = run_u + unions[att, idx] - unions[sel[idx], idx]
                keep = run_u > 0  # the reference skips classes empty in the RUNNING union
                est = float((ni[keep] / (nu[keep] + 1e-8)).mean())
                if est < best:
                    sel[idx], run_i, run_u = att, ni, nu
            best = miou(run_i, run_u)
        if prev - best <= 1e-6:
            break
        prev = best
    return best, sel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="checkout of nmndeep/Robust-Segmentation")
    ap.add_argument("--model-dump", required=True, help="output of tools/sea-reference/dump-model.mjs")
    ap.add_argument("--data", required=True)
    ap.add_argument("--class-weights", required=True)
    ap.add_argument("--eps", default="1,4,8")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--limit", type=int, default=10**9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dump-logits", help="write the clean logits of the first batch (.npy) here")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    attacker = import_reference(args.reference)
    model = OnnxAsTorch(args.model_dump).eval()
    names, x, y = load_folder(args.data, args.limit)
    weights = torch.tensor(json.load(open(args.class_weights))["weights"], dtype=torch.float32)
    with torch.no_grad():
        clean_logits = torch.cat([model(x[i : i + args.batch]) for i in range(0, len(x), args.batch)])
    k = clean_logits.shape[1]
    if args.dump_logits:
        np.save(args.dump_logits, clean_logits[: args.batch].numpy())
    ci, cu, cc, cl = per_image_stats(clean_logits.argmax(1), y, k)
    result = {
        "tool": "reference (nmndeep/Robust-Segmentation semseg/attacker.py apgd_largereps)",
        "torch": torch.__version__,
        "threads": args.threads,
        "images": len(names),
        "iters": args.iters,
        "batch": args.batch,
        "clean": {"aAcc": float(cc.sum() / cl.sum()), "mIoU": miou(ci.sum(0), cu.sum(0))},
        "eps": {},
    }
    for e in [float(v) for v in args.eps.split(",")]:
        inters, unions, accs, per_attack = [], [], [], {}
        t0 = time.perf_counter()
        for loss in LOSSES:
            torch.manual_seed(args.seed)
            ta = time.perf_counter()
            preds = []
            for i in range(0, len(x), args.batch):
                xb, yb = x[i : i + args.batch], y[i : i + args.batch]
                x_adv, _, _ = attacker.apgd_largereps(
                    model, xb.clone(), yb, weights, norm="Linf", eps=e / 255.0, n_iter=args.iters,
                    n_restarts=1, use_rs=True, loss=loss, verbose=False, track_loss="ce-avg",
                    log_path=None, num_classes=k, early_stop=True,
                )
                assert (x_adv - xb).abs().max() <= e / 255.0 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
                with torch.no_grad():
                    preds.append(model(x_adv).argmax(1))
            seconds = time.perf_counter() - ta
            ii, uu, cc_, ll = per_image_stats(torch.cat(preds), y, k)
            inters.append(ii)
            unions.append(uu)
            accs.append(cc_ / ll)
            per_attack[loss] = {
                "aAcc": float(cc_.sum() / ll.sum()),
                "meanImageAcc": float((cc_ / ll).mean()),
                "mIoU": miou(ii.sum(0), uu.sum(0)),
                "seconds": seconds,
            }
            print(f"eps {e:g}/255 {loss}: {per_attack[loss]}", flush=True)
        seconds = time.perf_counter() - t0
        inters_t, unions_t = torch.stack(inters), torch.stack(unions)
        worst_miou, sel = worst_case_miou_search(inters_t, unions_t)
        acc_t = torch.stack(accs)
        result["eps"][f"{e:g}"] = {
            "perAttack": per_attack,
            "worst": {"meanImageAcc": float(acc_t.min(0)[0].mean()), "mIoU": worst_miou},
            "seconds": seconds,
            "secondsPerImage": seconds / len(names),
        }
        print(f"eps {e:g}/255 worst: {result['eps'][f'{e:g}']['worst']} in {seconds:.1f} s", flush=True)
    result["peakRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
