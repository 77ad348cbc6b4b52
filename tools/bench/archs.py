"""The engine benchmark's architectures: the fixture models of tools/fixtures at a realistic size.

Same builders, same seeded weights (tools/fixtures/seeded.py: every parameter is a function of its
name and shape), same ONNX export settings as the fixtures; only the input size differs (batch 4).
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import models  # noqa: E402
from seeded import seed_module, uniform  # noqa: E402

CACHE = os.path.join(HERE, ".cache")  # gitignored (tools/bench/.gitignore); outside bench/, which biome lints
IGNORE = 255
BATCH = 4

# name: (builder, opset, task, [N, C, H, W], classes, why this size)
ARCHS = {
    "lraspp_mobilenet_v3": (
        lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(num_classes=5, weights=None, weights_backbone=None),
        13, "segmentation", [BATCH, 3, 256, 256], 5, "256x256 segmentation"),
    "resnet18": (
        lambda: torchvision.models.resnet18(num_classes=10),
        11, "classification", [BATCH, 3, 224, 224], 10, "224x224, the ImageNet classification size"),
    # The exporter handles AdaptiveAvgPool2d(b) only when b divides the map: the PPM (bins 1, 2, 3, 6) runs
    # on the stride-8 map, so H/8 must be a multiple of 6. 240 (map 30x30) is the closest to 256.
    "convnext_upernet": (
        lambda: models.ConvNeXtUPerNet(num_classes=4),
        17, "segmentation", [BATCH, 3, 240, 240], 4, "240x240: the PPM bins 1,2,3,6 must divide the stride-8 map"),
    # Patch 8 as the fixture: 32x32 = 1024 tokens (+ class token); pos_embed is seeded for that length.
    "segmenter_vit": (
        lambda: models.Segmenter(num_classes=4, image=(256, 256)),
        17, "segmentation", [BATCH, 3, 256, 256], 4, "256x256, patch 8: 1025 tokens"),
    "unet": (lambda: models.UNet(num_classes=3), 13, "segmentation", [BATCH, 3, 256, 256], 3, "256x256 segmentation"),
    "normalized_convnet": (
        lambda: models.NormalizedNet(num_classes=10),
        13, "classification", [BATCH, 3, 224, 224], 10, "224x224 classification"),
}


def out(y):
    return y["out"] if isinstance(y, dict) else y


def build(name):
    builder = ARCHS[name][0]
    torch.manual_seed(0)
    model = builder().eval()
    seed_module(model)
    return model


def make_data(name):
    """uint8 image q (x = q/255 rounded once to float32) and uint8 labels (~10% ignore pixels), seeded by name."""
    _, _, task, dims, classes, _ = ARCHS[name]
    key = f"bench/{name}"
    q = np.minimum(np.floor(uniform(f"{key}/x", int(np.prod(dims))) * 256), 255).astype(np.uint8).reshape(dims)
    n = dims[0] if task == "classification" else dims[0] * dims[2] * dims[3]
    lab = np.floor(uniform(f"{key}/labels", n) * classes).astype(np.uint8)
    if task == "segmentation":
        lab[uniform(f"{key}/ignore", n) < 0.1] = IGNORE
        lab = lab.reshape(dims[0], dims[2], dims[3])
    return q, lab


def to_float(q):
    return (q.astype(np.float64) / 255.0).astype(np.float32)


def ce_avg(logits, labels):
    """Per-image loss: classification CE; segmentation mean over ALL pixels of CE, ignore pixels count 0."""
    ce = F.cross_entropy(logits, labels, reduction="none", ignore_index=IGNORE)
    if ce.dim() == 1:
        return ce
    return ce.flatten(1).sum(1) / (ce.shape[1] * ce.shape[2])


def arch_dir(name):
    return os.path.join(CACHE, name)
