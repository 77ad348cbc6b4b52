"""PyTorch side of the engine benchmark: a worker that bench/engine.ts drives over stdin/stdout, so the two
engines' runs alternate (same machine, same moment).

Loads one architecture of tools/bench/.cache (tools/bench/export.py) with its seeded weights and data, then
answers one JSON line per command line:
  fwd   -> {"ms": ..., "faults": ...}   forward under torch.no_grad() (faults: minor page faults in the run)
  grad  -> {"ms": ..., "faults": ...}   forward + per-image ce-avg + autograd of their sum w.r.t. the input (eager, fp32)
  stats -> {"maxRssKB": ..., "gradCosine": ..., "gradMaxErrOverMax": ..., "lossMaxRelErr": ...}
           (the last gradient against the float64 reference; peak RSS of this process)
  quit
Usage: /usr/bin/python3 tools/bench/torch_worker.py ARCH [THREADS]
"""

import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

import archs  # noqa: E402


def main():
    name = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    d = archs.arch_dir(name)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    model = archs.build(name)
    for p in model.parameters():
        p.requires_grad_(False)  # only the input gradient is wanted, as in robustscope
    q = np.fromfile(os.path.join(d, "x.u8.bin"), dtype=np.uint8).reshape(meta["x"]["dims"])
    x = torch.from_numpy(archs.to_float(q))
    lab = torch.from_numpy(np.fromfile(os.path.join(d, "labels.u8.bin"), dtype=np.uint8).astype(np.int64).reshape(meta["labels"]["dims"]))
    ref = np.fromfile(os.path.join(d, "grad64.f32.bin"), dtype="<f4").astype(np.float64)
    xr = x.clone().requires_grad_(True)
    last = {}

    def fwd():
        with torch.no_grad():
            archs.out(model(x))

    def grad():
        loss = archs.ce_avg(archs.out(model(xr)), lab)
        (g,) = torch.autograd.grad(loss.sum(), xr)
        last["g"], last["loss"] = g, loss.detach()

    def reply(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply({"ready": True, "version": f"torch {torch.__version__}", "threads": torch.get_num_threads()})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd in ("fwd", "grad"):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            (fwd if cmd == "fwd" else grad)()
            ms = (time.perf_counter() - t0) * 1000
            reply({"ms": ms, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0})
        elif cmd == "stats":
            g = last["g"].numpy().ravel().astype(np.float64)
            loss64 = np.array(meta["loss64"])
            reply({
                "maxRssKB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "gradCosine": float(g @ ref / (np.linalg.norm(g) * np.linalg.norm(ref))),
                "gradMaxErrOverMax": float(np.abs(g - ref).max() / np.abs(ref).max()),
                "lossMaxRelErr": float((np.abs(last["loss"].numpy() - loss64) / np.abs(loss64)).max()),
            })
        elif cmd == "quit":
            return
        else:
            reply({"error": f"unknown command {cmd!r}"})


if __name__ == "__main__":
    main()
