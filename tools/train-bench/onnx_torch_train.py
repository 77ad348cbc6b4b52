"""A TRAINABLE PyTorch rebuild of robustscope's own architectures (src/arch) from the dump written by
tools/sea-reference/dump-model.mjs (model.json + model.bin), for the training-step benchmark (dev time only).

Also used, frozen and in eval mode, by the SEA reference comparison (tools/sea-reference/run_reference.py).
This module:
- turns float initializers of rank >= 1 into nn.Parameters (BatchNormalization input_mean / input_var
  become buffers, rank-0 floats and integer tensors stay constants), the same split as
  robustscope's src/train/params.ts;
- honours train/eval mode in BatchNormalization (F.batch_norm with training=self.training; torch
  momentum = 1 - ONNX momentum, unbiased running_var as robustscope's default);
- evaluates only the nodes an output set needs (forward(x, outputs=[...])), as robustscope prunes the
  graph to the heads a session asks for (the attack never computes the auxiliary head).

Ops: Sub Mul Div Add Conv BatchNormalization Relu Gelu Shape Slice Resize AveragePool GlobalAveragePool
Concat Transpose LayerNormalization MatMul Flatten Gemm (Constant too). Shapes (Shape -> Slice -> Resize sizes) are
plain Python tuples, so no tensor op is spent on them. Unknown ops fail loudly at construction."""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SUPPORTED = {
    "Constant", "Sub", "Mul", "Div", "Add", "Conv", "BatchNormalization", "Relu", "Gelu", "Shape", "Slice", "Resize",
    "AveragePool", "GlobalAveragePool", "Concat", "Transpose", "LayerNormalization", "MatMul", "Flatten", "Gemm",
}


def _attr(a, k, default):
    return a[k] if k in a else default


class OnnxTrainable(nn.Module):
    def __init__(self, dump_dir, outputs=None):
        super().__init__()
        meta = json.load(open(os.path.join(dump_dir, "model.json")))
        blob = open(os.path.join(dump_dir, "model.bin"), "rb").read()

        def tensor(e):
            dt = np.float32 if e["dtype"] == "float32" else np.int64
            a = np.frombuffer(blob, dtype=dt, count=e["length"] // np.dtype(dt).itemsize, offset=e["offset"])
            return torch.from_numpy(a.reshape(e["dims"]).copy())

        self.input = meta["input"]
        self.default_outputs = list(outputs or [meta["output"]])
        nodes = []
        for n in meta["nodes"]:
            if n["op"] not in SUPPORTED:
                raise NotImplementedError(f"onnx_torch_train: op {n['op']} (node {n['outputs'][0]}) is not supported")
            attrs = {k: (tensor(v["tensor"]) if isinstance(v, dict) and "tensor" in v else v) for k, v in n["attrs"].items()}
            nodes.append((n["op"], n["inputs"], n["outputs"], attrs))
        self.nodes = nodes
        bn_stats = set()
        for op, ins, _, _ in nodes:
            if op == "BatchNormalization":
                bn_stats.update(ins[3:5])
        # Parameters / buffers live in flat dicts keyed by a safe name; `key_of` maps ONNX names to them.
        self.params = nn.ParameterDict()
        self.key_of = {}
        self.param_names = []  # ONNX names of the parameters, initializer order
        self.consts = {}
        self.shape_consts = {}  # int64 initializers as Python tuples (Slice starts/ends/axes)
        for i, (name, e) in enumerate(meta["initializers"].items()):
            t = tensor(e)
            key = f"t{i}"
            if t.dtype != torch.float32:
                self.consts[name] = t
                self.shape_consts[name] = tuple(int(v) for v in t.reshape(-1).tolist())
            elif name in bn_stats:
                self.register_buffer(key, t)
                self.key_of[name] = key
            elif t.dim() == 0:
                self.consts[name] = t
            else:
                self.params[key] = nn.Parameter(t)
                self.key_of[name] = key
                self.param_names.append(name)
        self._plans = {}

    def named_onnx_parameters(self):
        """(ONNX name, nn.Parameter) pairs."""
        return [(n, self.params[self.key_of[n]]) for n in self.param_names]

    def _plan(self, outputs):
        """The nodes needed for `outputs`, in graph order (cached per output set)."""
        key = tuple(outputs)
        if key not in self._plans:
            need = set(outputs)
            keep = []
            for node in reversed(self.nodes):
                if any(o in need for o in node[2]):
                    keep.append(node)
                    need.update(i for i in node[1] if i)
            self._plans[key] = list(reversed(keep))
        return self._plans[key]

    def _get(self, env, name):
        if name == "":
            return None
        if name in env:
            return env[name]
        key = self.key_of.get(name)
        if key is not None:
            return self.params[key] if key in self.params else getattr(self, key)
        return self.consts[name]

    def forward(self, x, outputs=None):
        outputs = list(outputs or self.default_outputs)
        env = {self.input: x}
        for op, ins, outs, a in self._plan(outputs):
            if op == "Slice":
                # Only shape arithmetic (Shape -> Slice) occurs in robustscope's architectures.
                src = env[ins[0]]
                if not isinstance(src, tuple):
                    raise NotImplementedError("onnx_torch_train: Slice of a tensor is not supported")
                starts, ends = self.shape_consts[ins[1]], self.shape_consts[ins[2]]
                axes = self.shape_consts[ins[3]] if len(ins) > 3 and ins[3] else (0,)
                steps = self.shape_consts[ins[4]] if len(ins) > 4 and ins[4] else (1,)
                if axes != (0,) or steps != (1,) or len(starts) != 1:
                    raise NotImplementedError("onnx_torch_train: only 1-D Slice on axis 0 with step 1")
                env[outs[0]] = src[starts[0]:ends[0]]
                continue
            v = [self._get(env, i) for i in ins]
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
            elif op == "Gelu":
                if _attr(a, "approximate", "none") != "none":
                    raise NotImplementedError("onnx_torch_train: Gelu approximate=tanh")
                r = F.gelu(v[0])
            elif op == "MatMul":
                r = torch.matmul(v[0], v[1])
            elif op == "Transpose":
                r = v[0].permute(*a["perm"])
            elif op == "Conv":
                p = _attr(a, "pads", [0, 0, 0, 0])
                if p[0] != p[2] or p[1] != p[3]:
                    raise NotImplementedError("onnx_torch_train: asymmetric Conv pads")
                r = F.conv2d(v[0], v[1], v[2] if len(v) > 2 else None, _attr(a, "strides", [1, 1]), (p[0], p[1]),
                             _attr(a, "dilations", [1, 1]), _attr(a, "group", 1))
            elif op == "BatchNormalization":
                # torch: running = (1 - m) * running + m * batch; ONNX: running * m + batch * (1 - m).
                r = F.batch_norm(v[0], v[3], v[4], v[1], v[2], training=self.training,
                                 momentum=1.0 - _attr(a, "momentum", 0.9), eps=_attr(a, "epsilon", 1e-5))
            elif op == "LayerNormalization":
                axis = _attr(a, "axis", -1)
                if axis not in (-1, v[0].dim() - 1):
                    raise NotImplementedError("onnx_torch_train: LayerNormalization over more than the last axis")
                r = F.layer_norm(v[0], (v[0].shape[-1],), v[1], v[2] if len(v) > 2 else None, _attr(a, "epsilon", 1e-5))
            elif op == "Shape":
                r = tuple(v[0].shape)
            elif op == "Resize":
                if _attr(a, "mode", "nearest") != "linear" or _attr(a, "coordinate_transformation_mode", "half_pixel") != "half_pixel":
                    raise NotImplementedError("onnx_torch_train: Resize other than linear half_pixel")
                if len(ins) < 4 or not ins[3]:
                    # Resize by scales (PyTorch's exporter): output size floor(in * scale) per axis.
                    scales = [float(t) for t in v[2].reshape(-1)]
                    sizes = [int(np.floor(d * sc)) for d, sc in zip(v[0].shape, scales)]
                else:
                    sizes = env[ins[3]] if ins[3] in env else self.shape_consts[ins[3]]
                axes = tuple(_attr(a, "axes", list(range(v[0].dim()))))
                if axes == (0, 1, 2, 3):
                    sizes = sizes[2:]
                elif axes != (2, 3):
                    raise NotImplementedError(f"onnx_torch_train: Resize axes {axes}")
                r = F.interpolate(v[0], size=[int(s) for s in sizes], mode="bilinear", align_corners=False)
            elif op == "GlobalAveragePool":
                r = v[0].mean(dim=(2, 3), keepdim=True)
            elif op == "AveragePool":
                r = _average_pool(v[0], a)
            elif op == "Concat":
                r = torch.cat(v, dim=a["axis"])
            elif op == "Flatten":
                r = torch.flatten(v[0], start_dim=_attr(a, "axis", 1))
            elif op == "Gemm":
                A = v[0].t() if _attr(a, "transA", 0) else v[0]
                B = v[1].t() if _attr(a, "transB", 0) else v[1]
                r = _attr(a, "alpha", 1.0) * (A @ B)
                if len(v) > 2 and v[2] is not None:
                    r = r + _attr(a, "beta", 1.0) * v[2]
            else:  # unreachable: checked in __init__
                raise NotImplementedError(op)
            env[outs[0]] = r
        return {o: env[o] for o in outputs}


def _average_pool(x, a):
    """ONNX AveragePool (2-D), possibly asymmetric pads, count_include_pad 0 (default) or 1, ceil_mode."""
    k = a["kernel_shape"]
    s = _attr(a, "strides", [1, 1])
    p = _attr(a, "pads", [0, 0, 0, 0])  # [top, left, bottom, right]
    ceil = bool(_attr(a, "ceil_mode", 0))
    if _attr(a, "dilations", [1, 1]) != [1, 1]:
        raise NotImplementedError("onnx_torch_train: dilated AveragePool")
    if not any(p):
        return F.avg_pool2d(x, k, s, ceil_mode=ceil, count_include_pad=False)
    xp = F.pad(x, (p[1], p[3], p[0], p[2]))
    # Window sums over the zero-padded input divided by the number of real (or, count_include_pad,
    # all padded) pixels in each window; divisor_override=1 makes avg_pool2d return plain sums.
    total = F.avg_pool2d(xp, k, s, ceil_mode=ceil, divisor_override=1)
    ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    if _attr(a, "count_include_pad", 0):
        ones = F.pad(ones, (p[1], p[3], p[0], p[2]), value=1.0)
    else:
        ones = F.pad(ones, (p[1], p[3], p[0], p[2]))
    count = F.avg_pool2d(ones, k, s, ceil_mode=ceil, divisor_override=1)
    return total / count
