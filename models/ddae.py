"""ddae: the seed's denoising U-shaped autoencoder, exported at 157x157 (admissible sizes 61 + 16n).

X (N, 1, 157, 157) -> four [Conv k5 s2, BatchNorm, ReLU] blocks (157 -> 77 -> 37 -> 17 -> 7) -> four
[ConvTranspose k5 s2, BatchNorm, ReLU] blocks back up (7 -> 17 -> 37 -> 77 -> 157), the 37 and 77 levels
summed with the encoder's (the two skip sums) -> Log(1 + x) -> 1x1 Conv -> Exp. Every k5 s2 layer
loses nothing at the border only if (n - 5) is even, which is what makes the sizes 61 + 16n.
"""
from __future__ import annotations

import numpy as np
import onnx

from onnxport.models._builder import NetBuilder


def build(size: int = 157, widths=(8, 16, 16, 32), seed: int = 31, opset: int = 17) -> onnx.ModelProto:
    net = NetBuilder("ddae", seed=seed, opset=opset)
    x = net.input("X", ["N", 1, size, size])
    skips, channels = [], 1
    for level, width in enumerate(widths):
        x = net.conv(x, channels, width, [5, 5], f"enc{level}", strides=[2, 2])
        x = net.op("Relu", [net.batch_norm(x, width, f"enc{level}_bn")], f"enc{level}_act")
        skips.append(x)
        channels = width
    for level in reversed(range(len(widths))):
        width = widths[level - 1] if level else widths[0]
        x = net.conv_transpose(x, channels, width, [5, 5], stem=f"dec{level}", strides=[2, 2])
        x = net.op("Relu", [net.batch_norm(x, width, f"dec{level}_bn")], f"dec{level}_act")
        if level in (1, 2):                                   # the two skip sums, at 37 and 77
            x = net.op("Add", [x, skips[level - 1]], f"skip{level}")
        channels = width
    x = net.op("Log", [net.op("Add", [x, net.const(np.ones(1, np.float32), "one")], "shifted")], "log")
    x = net.op("Exp", [net.conv(x, channels, 1, [1, 1], "mix")], "denoised")
    net.output(x, ["N", 1, size, size])
    return net.build(doc=__doc__)
