"""Trains the bundled demo segmentation models on the shapes data (dev time only; see README.md).

  clean: plain cross-entropy training.
  at:    adversarial training, every batch 100% adversarial: PGD-CE (linf, zero init, model in eval mode
         while attacking, step 2.5*eps/steps), as in the PIR-AT recipe but from a random init.

Then evaluates on the test split (clean + PGD-CE, 20 steps, eps 1/2/4/8 /255), exports ONNX (opset 17,
input 'image' [N,3,H,W] in [0,1], output 'logits' [N,6,H,W], dynamic N/H/W with H, W multiples of 4) and
writes a JSON log of the run next to it.

Usage: /usr/bin/python3 tools/demo-models/train.py {clean|at} [--data tmp/demo-data] [--out models]
       [--epochs E] [--threads 2] [--eps 4] [--steps 3] [--seed 0]
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IGNORE = 255
NUM_CLASSES = 6


# ---------------------------------------------------------------- data
def load_split(folder):
    """folder layout of `robustscope data shapes`: images/*.png (RGB), labels/*.png (8-bit ids)."""
    names = sorted(os.listdir(os.path.join(folder, "images")))
    xs = np.stack([np.asarray(Image.open(os.path.join(folder, "images", n)).convert("RGB")) for n in names])
    ys = []
    for n in names:
        lab = Image.open(os.path.join(folder, "labels", n))
        assert lab.mode == "L", f"{n}: label PNG mode {lab.mode}, expected 8-bit grayscale"
        ys.append(np.asarray(lab))
    x = torch.from_numpy(xs).permute(0, 3, 1, 2).float().div(255).contiguous()
    y = torch.from_numpy(np.stack(ys)).long()
    return x, y


def augment(x, y, g):
    """Random flips and 90-degree rotations (the classes are invariant to them), per batch."""
    k = int(torch.randint(4, (1,), generator=g))
    if k:
        x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (1, 2))
    if int(torch.randint(2, (1,), generator=g)):
        x, y = torch.flip(x, (3,)), torch.flip(y, (2,))
    return x.contiguous(), y.contiguous()


# ---------------------------------------------------------------- model
def cbr(cin, cout, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ShapesSegNet(nn.Module):
    """Compact encoder-decoder: full-res stem, two stride-2 stages, a dilated context conv at 1/4,
    one skip at 1/2, logits at 1/2 upsampled bilinearly to the input size. Input [0,1]; the
    normalisation is the first op of the model."""

    def __init__(self, num_classes=NUM_CLASSES, w=16):
        super().__init__()
        self.stem = cbr(3, w)  # 1/1
        self.enc1 = nn.Sequential(cbr(w, 2 * w, stride=2), cbr(2 * w, 2 * w))  # 1/2
        self.enc2 = nn.Sequential(cbr(2 * w, 4 * w, stride=2), cbr(4 * w, 4 * w), cbr(4 * w, 4 * w, dilation=2))  # 1/4
        self.lat = nn.Sequential(nn.Conv2d(4 * w, 2 * w, 1, bias=False), nn.BatchNorm2d(2 * w))
        self.dec = cbr(2 * w, 2 * w)
        self.head = nn.Conv2d(2 * w, num_classes, 1)

    def forward(self, image):
        x = (image - 0.5) / 0.25
        s1 = self.enc1(self.stem(x))
        s2 = self.enc2(s1)
        d = F.relu(s1 + F.interpolate(self.lat(s2), scale_factor=2.0, mode="bilinear", align_corners=False))
        logits = self.head(self.dec(d))
        return F.interpolate(logits, scale_factor=2.0, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- attack + metrics
def pgd_ce(model, x, y, eps, steps, step, keep_best=False):
    """linf PGD on the mean pixel CE (ignore 255), zero init. keep_best: per image, return the iterate
    with the lowest pixel accuracy (evaluation); else the last iterate (training)."""
    was_training = model.training
    model.eval()
    delta = torch.zeros_like(x)
    best = x.clone()
    best_acc = torch.full((x.shape[0],), 2.0)
    valid = (y != IGNORE).flatten(1).sum(1).clamp(min=1)
    for i in range(steps + (1 if keep_best else 0)):
        delta.requires_grad_(True)
        logits = model(x + delta)
        if keep_best:
            with torch.no_grad():
                acc = ((logits.argmax(1) == y) & (y != IGNORE)).flatten(1).sum(1) / valid
                better = acc <= best_acc
                best[better] = (x + delta)[better].detach()
                best_acc = torch.where(better, acc, best_acc)
            if i == steps:
                break
        loss = F.cross_entropy(logits, y, ignore_index=IGNORE)
        (g,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = (delta + step * g.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
    model.train(was_training)
    return best if keep_best else (x + delta).detach()


class Confusion:
    def __init__(self, k=NUM_CLASSES):
        self.m = torch.zeros(k, k, dtype=torch.long)
        self.k = k

    def add(self, pred, y):
        v = y != IGNORE
        self.m += torch.bincount(y[v] * self.k + pred[v], minlength=self.k * self.k).view(self.k, self.k)

    def metrics(self):
        m = self.m.double()
        inter = m.diag()
        union = m.sum(0) + m.sum(1) - inter
        gt = m.sum(1)
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.full_like(inter, float("nan")))
        acc_c = torch.where(gt > 0, inter / gt.clamp(min=1), torch.full_like(inter, float("nan")))
        return {
            "aAcc": float(inter.sum() / m.sum()),
            "mAcc": float(acc_c[~acc_c.isnan()].mean()),
            "mIoU": float(iou[~iou.isnan()].mean()),
            "IoU": [None if v != v else round(float(v), 4) for v in iou],
        }


def evaluate(model, x, y, eps=0.0, steps=20, bs=50):
    model.eval()
    conf = Confusion()
    for i in range(0, len(x), bs):
        xb, yb = x[i : i + bs], y[i : i + bs]
        if eps > 0:
            xb = pgd_ce(model, xb, yb, eps, steps, 2.5 * eps / steps, keep_best=True)
        with torch.no_grad():
            conf.add(model(xb).argmax(1), yb)
    return conf.metrics()


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["clean", "at"])
    ap.add_argument("--data", default=os.path.join(ROOT, "tmp", "demo-data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models"))
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eps", type=float, default=4.0, help="AT radius, /255")
    ap.add_argument("--steps", type=int, default=3, help="AT PGD steps")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=16, help="channels of the full-resolution stem")
    ap.add_argument("--eval-eps", default="1,2,4,8")
    args = ap.parse_args()
    epochs = args.epochs or (30 if args.mode == "clean" else 12)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    xtr, ytr = load_split(os.path.join(args.data, "train"))
    xva, yva = load_split(os.path.join(args.data, "val"))
    xte, yte = load_split(os.path.join(args.data, "test"))
    model = ShapesSegNet(w=args.width)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"{args.mode}: {nparams} parameters, train {len(xtr)} val {len(xva)} test {len(xte)}, {epochs} epochs", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(xtr) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    eps = args.eps / 255
    log = []
    best_score, best_state, best_epoch = -1.0, None, -1
    t_start = time.time()
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=g)
        tot, cnt = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch : (b + 1) * args.batch]
            xb, yb = augment(xtr[idx], ytr[idx], g)
            if args.mode == "at":
                xb = pgd_ce(model, xb, yb, eps, args.steps, 2.5 * eps / args.steps)
            loss = F.cross_entropy(model(xb), yb, ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
            cnt += 1
        train_time = time.time() - t0
        val = evaluate(model, xva, yva)
        entry = {"epoch": ep + 1, "train_loss": round(tot / cnt, 4), "train_seconds": round(train_time, 1), "val_clean": val}
        score = val["mIoU"]
        if args.mode == "at":
            # Model selection on the held-out val split, by robust mIoU at the training radius (cheap PGD).
            val_rob = evaluate(model, xva, yva, eps=eps, steps=5)
            entry["val_pgd5"] = val_rob
            score = val_rob["mIoU"]
        log.append(entry)
        print(
            f"epoch {ep + 1}/{epochs} loss {tot / cnt:.4f} val mIoU {val['mIoU']:.4f}"
            + (f" val PGD-5@{args.eps:g} mIoU {entry['val_pgd5']['mIoU']:.4f}" if args.mode == "at" else "")
            + f" ({train_time:.0f}s)",
            flush=True,
        )
        if score >= best_score:
            best_score, best_epoch = score, ep + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    train_wall = time.time() - t_start
    model.load_state_dict(best_state)
    model.eval()

    t0 = time.time()
    test = {"clean": evaluate(model, xte, yte)}
    for e in [float(v) for v in args.eval_eps.split(",")]:
        test[f"pgd20_{e:g}"] = evaluate(model, xte, yte, eps=e / 255, steps=20)
        print(f"test PGD-20 eps {e:g}/255: aAcc {test[f'pgd20_{e:g}']['aAcc']:.4f} mIoU {test[f'pgd20_{e:g}']['mIoU']:.4f}", flush=True)
    eval_wall = time.time() - t0
    print(f"test clean: aAcc {test['clean']['aAcc']:.4f} mIoU {test['clean']['mIoU']:.4f}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    name = f"shapes-seg-{args.mode}"
    onnx_path = os.path.join(args.out, f"{name}.onnx")
    dummy = torch.rand(1, 3, 64, 64, generator=g)
    torch.onnx.export(
        model,
        dummy,
        onnx_path,
        opset_version=17,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "logits": {0: "N", 2: "H", 3: "W"}},
        do_constant_folding=True,
    )
    import onnx

    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    # Reference for check-onnx.mjs (not committed): weights, and on 4 test images the logits and the input
    # gradient of the sum of per-image ce-avg losses (pixel CE summed / (H*W), ignored pixels count 0).
    ref_dir = os.path.join(ROOT, "tmp", "demo-models")
    os.makedirs(ref_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(ref_dir, f"{name}.pt"))
    xr, yr = xte[:4].clone().requires_grad_(True), yte[:4]
    logits_r = model(xr)
    loss_r = F.cross_entropy(logits_r, yr, ignore_index=IGNORE, reduction="sum") / (yr.shape[1] * yr.shape[2])
    (grad_r,) = torch.autograd.grad(loss_r, xr)
    np.save(os.path.join(ref_dir, f"{name}-x.npy"), xte[:4].numpy())
    np.save(os.path.join(ref_dir, f"{name}-y.npy"), yr.numpy().astype(np.int64))
    np.save(os.path.join(ref_dir, f"{name}-logits.npy"), logits_r.detach().numpy())
    np.save(os.path.join(ref_dir, f"{name}-grad.npy"), grad_r.numpy())

    record = {
        "model": f"{name}.onnx",
        "produced_by": f"/usr/bin/python3 tools/demo-models/train.py {' '.join(sys.argv[1:])}",
        "architecture": f"ShapesSegNet(w={args.width}) (tools/demo-models/train.py)",
        "parameters": nparams,
        "mode": args.mode,
        "data": {"train": [len(xtr), "seed 1"], "val": [len(xva), "seed 2"], "test": [len(xte), "seed 3"], "size": 64},
        "config": {
            "epochs": epochs,
            "batch": args.batch,
            "optimizer": "AdamW",
            "lr": args.lr,
            "weight_decay": 1e-4,
            "schedule": "OneCycle (15% warm-up, cosine)",
            "augmentation": "random 90-degree rotation + horizontal flip",
            "threads": args.threads,
            "seed": args.seed,
            **(
                {"at": {"eps": f"{args.eps:g}/255", "steps": args.steps, "step": f"{2.5 * args.eps / args.steps:g}/255", "init": "zero", "adv_fraction": 1.0, "attack_mode": "eval"}}
                if args.mode == "at"
                else {}
            ),
        },
        "selected_epoch": best_epoch,
        "selection": "val clean mIoU" if args.mode == "clean" else f"val PGD-5 mIoU at {args.eps:g}/255",
        "train_wall_seconds": round(train_wall, 1),
        "test_eval_wall_seconds": round(eval_wall, 1),
        "test": test,
        "test_attack": "PGD-CE linf, zero init, 20 steps, step 2.5*eps/20, per image the iterate with the lowest pixel accuracy",
        "epochs_log": log,
        "onnx": {"opset": 17, "bytes": os.path.getsize(onnx_path), "input": "image [N,3,H,W] in [0,1]", "output": "logits [N,6,H,W]"},
        "env": {"torch": torch.__version__, "python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
    }
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), train {train_wall:.0f}s", flush=True)


if __name__ == "__main__":
    main()
