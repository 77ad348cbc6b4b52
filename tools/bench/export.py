"""Exports the engine benchmark's models and data into tools/bench/.cache/<arch>/ (dev time; gitignored).

Per architecture (tools/bench/archs.py): model.onnx WITH its seeded weights (exported exactly as the
fixtures are: same opset, TrainingMode.PRESERVE on an eval() model, no constant folding), the input
x.u8.bin (x = q/255), labels.u8.bin, and the PyTorch float64 autograd reference of the ce-avg input
gradient (grad64.f32.bin) and per-image loss, against which both engines' float32 gradients are checked.

Usage: /usr/bin/python3 tools/bench/export.py [--force] [arch ...]     (default: all; skips fresh ones)
"""

import copy
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

import archs  # noqa: E402

SOURCES = [
    os.path.join(archs.HERE, "archs.py"),
    os.path.join(archs.HERE, "export.py"),
    os.path.join(archs.ROOT, "tools", "fixtures", "models.py"),
    os.path.join(archs.ROOT, "tools", "fixtures", "seeded.py"),
]


def source_hash():
    h = hashlib.sha256()
    for p in SOURCES:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def export(name, stamp):
    _, opset, task, dims, classes, why = archs.ARCHS[name]
    d = archs.arch_dir(name)
    os.makedirs(d, exist_ok=True)
    model = archs.build(name)
    q, labels = archs.make_data(name)
    x = archs.to_float(q)

    # float64 reference (the exact answer for these float32 weights and this float32 input).
    m64 = copy.deepcopy(model).double()
    x64 = torch.from_numpy(x).double().requires_grad_(True)
    lab = torch.from_numpy(labels.astype(np.int64))
    logits = archs.out(m64(x64))
    loss = archs.ce_avg(logits, lab)
    (g,) = torch.autograd.grad(loss.sum(), x64)

    torch.onnx.export(
        model, torch.from_numpy(x), os.path.join(d, "model.onnx"), opset_version=opset, input_names=["x"],
        output_names=["logits"], do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
        export_params=True, keep_initializers_as_inputs=False,
    )
    q.tofile(os.path.join(d, "x.u8.bin"))
    labels.tofile(os.path.join(d, "labels.u8.bin"))
    g.numpy().astype("<f4").tofile(os.path.join(d, "grad64.f32.bin"))
    meta = {
        "name": name,
        "task": task,
        "opset": opset,
        "classes": classes,
        "size": why,
        "x": {"dims": dims},
        "labels": {"dims": list(labels.shape)},
        "logits": {"dims": list(logits.shape)},
        "loss64": loss.detach().numpy().tolist(),
        "params": int(sum(p.numel() for p in model.parameters())),
        "torch": torch.__version__,
        "stamp": stamp,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: {dims} -> {list(logits.shape)}, {meta['params']} parameters, "
          f"{os.path.getsize(os.path.join(d, 'model.onnx')) / 1e6:.1f} MB ONNX", flush=True)


def main():
    args = [a for a in sys.argv[1:] if a != "--force"]
    force = "--force" in sys.argv[1:]
    names = args or list(archs.ARCHS)
    stamp = source_hash()
    for n in names:
        if n not in archs.ARCHS:
            raise SystemExit(f"unknown architecture {n}; known: {', '.join(archs.ARCHS)}")
        meta = os.path.join(archs.arch_dir(n), "meta.json")
        if not force and os.path.exists(meta):
            with open(meta) as f:
                if json.load(f).get("stamp") == stamp:
                    print(f"{n}: up to date", flush=True)
                    continue
        export(n, stamp)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # TracerWarnings of the export are expected
    main()
