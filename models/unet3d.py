"""unet3d: a small 3-D U-Net, ConvTranspose k2 s2 up-sampling with skip concatenations.

X (N, 1, D, H, W), D/H/W symbolic multiples of 4 -> two [Conv k3, ReLU] x2 + MaxPool levels, a Conv
bottleneck, two [ConvTranspose k2 s2, Concat skip, Conv k3, ReLU] levels -> Conv 1x1x1 -> (N, 2, D, H, W).
"""
from __future__ import annotations

import onnx

from onnxport.models._builder import NetBuilder


def build(widths=(8, 16, 32), classes: int = 2, seed: int = 5, opset: int = 17) -> onnx.ModelProto:
    net = NetBuilder("unet3d", seed=seed, opset=opset)
    x = net.input("X", ["N", 1, "D", "H", "W"])
    same = {"pads": [1] * 6}
    skips, channels = [], 1
    for level, width in enumerate(widths[:-1]):
        x = net.op("Relu", [net.conv(x, channels, width, [3, 3, 3], f"enc{level}a", **same)])
        x = net.op("Relu", [net.conv(x, width, width, [3, 3, 3], f"enc{level}b", **same)])
        skips.append((x, width))
        x = net.op("MaxPool", [x], f"pool{level}", kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        channels = width
    x = net.op("Relu", [net.conv(x, channels, widths[-1], [3, 3, 3], "bottleneck", **same)])
    channels = widths[-1]
    for level, (skip, width) in reversed(list(enumerate(skips))):
        x = net.conv_transpose(x, channels, width, [2, 2, 2], stem=f"up{level}", strides=[2, 2, 2])
        x = net.op("Concat", [x, skip], f"join{level}", axis=1)
        x = net.op("Relu", [net.conv(x, 2 * width, width, [3, 3, 3], f"dec{level}", **same)])
        channels = width
    net.output(net.conv(x, channels, classes, [1, 1, 1], "head"), ["N", classes, "D", "H", "W"])
    return net.build(doc=__doc__)
