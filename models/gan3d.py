"""gan3d: a 3-D GAN generator in the style of 3D-GAN (Wu et al. 2016), widths reduced to stay small.

z (N, 32, 1, 1, 1) -> ConvTranspose k4 s1 (4^3) -> [BatchNorm, ReLU, ConvTranspose k4 s2 p1] x3 -> Sigmoid,
giving a (N, 1, 32, 32, 32) occupancy grid. Every up-sampling is a 3-D ConvTranspose, the op many
runtimes lack.
"""
from __future__ import annotations

import onnx

from onnxport.models._builder import NetBuilder


def build(latent: int = 32, widths=(64, 32, 16), seed: int = 3, opset: int = 17) -> onnx.ModelProto:
    net = NetBuilder("gan3d", seed=seed, opset=opset)
    x = net.input("z", ["N", latent, 1, 1, 1])
    x = net.conv_transpose(x, latent, widths[0], [4, 4, 4], stem="project", bias=False)
    channels = widths[0]
    for i, width in enumerate(list(widths[1:]) + [1]):
        x = net.op("Relu", [net.batch_norm(x, channels, f"bn{i}")])
        last = i == len(widths) - 1
        x = net.conv_transpose(x, channels, width, [4, 4, 4], stem=f"up{i}", bias=last,
                               strides=[2, 2, 2], pads=[1] * 6)
        channels = width
    net.output(net.op("Sigmoid", [x], "voxels"))
    return net.build(doc=__doc__)
