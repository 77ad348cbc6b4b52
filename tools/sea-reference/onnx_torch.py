"""A tiny ONNX interpreter in PyTorch for the ops of robustscope's bundled demo models (dev time only),
reading the dump of tools/sea-reference/dump-model.mjs, so the reference attack code runs on exactly
the model robustscope attacks. Unknown ops fail loudly."""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class OnnxAsTorch(nn.Module):
    def __init__(self, dump_dir):
        super().__init__()
        meta = json.load(open(os.path.join(dump_dir, "model.json")))
        blob = open(os.path.join(dump_dir, "model.bin"), "rb").read()

        def tensor(e):
            dt = np.float32 if e["dtype"] == "float32" else np.int64
            a = np.frombuffer(blob, dtype=dt, count=e["length"] // np.dtype(dt).itemsize, offset=e["offset"])
            return torch.from_numpy(a.reshape(e["dims"]).copy())

        self.input, self.output = meta["input"], meta["output"]
        self.consts = {}
        self.params = nn.ParameterDict()
        self.names = {}
        for i, (name, e) in enumerate(meta["initializers"].items()):
            t = tensor(e)
            if t.dtype == torch.float32:
                key = f"p{i}"
                self.params[key] = nn.Parameter(t, requires_grad=False)
                self.names[name] = key
            else:
                self.consts[name] = t
        self.nodes = []
        for n in meta["nodes"]:
            attrs = {k: (tensor(v["tensor"]) if isinstance(v, dict) and "tensor" in v else v) for k, v in n["attrs"].items()}
            self.nodes.append((n["op"], n["inputs"], n["outputs"], attrs))

    def forward(self, x):
        env = {self.input: x}

        def get(name):
            if name == "":
                return None
            if name in env:
                return env[name]
            if name in self.names:
                return self.params[self.names[name]]
            return self.consts[name]

        for op, ins, outs, a in self.nodes:
            v = [get(i) for i in ins]
            if op == "Constant":
                r = a["value"]
            elif op == "Sub":
                r = v[0] - v[1]
            elif op == "Add":
                r = v[0] + v[1]
            elif op == "Mul":
                r = v[0] * v[1]
            elif op == "Div":
                r = v[0] / v[1]
            elif op == "Relu":
                r = F.relu(v[0])
            elif op == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                assert p[0] == p[2] and p[1] == p[3], "asymmetric pads"
                r = F.conv2d(v[0], v[1], v[2] if len(v) > 2 else None, a.get("strides", [1, 1]), (p[0], p[1]),
                             a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "Resize":
                assert a.get("mode") == "linear" and a.get("coordinate_transformation_mode") == "half_pixel"
                if len(v) > 3 and v[3] is not None:
                    r = F.interpolate(v[0], size=[int(s) for s in v[3][2:]], mode="bilinear", align_corners=False)
                else:
                    sc = [float(s) for s in v[2][2:]]
                    size = [int(np.floor(v[0].shape[2 + i] * sc[i])) for i in range(2)]
                    r = F.interpolate(v[0], size=size, mode="bilinear", align_corners=False)
            else:
                raise NotImplementedError(f"onnx_torch: op {op} not supported")
            env[outs[0]] = r
        return env[self.output]
