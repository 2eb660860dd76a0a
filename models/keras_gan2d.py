"""keras_gan2d: the Keras 2-D GAN generator as tf2onnx exports it (NHWC at the edges), widths reduced.

z (N, 32) -> Dense (MatMul + Add) -> LeakyReLU -> Reshape (16, 16, 32) -> Transpose to NCHW ->
Conv2D 5 same -> Conv2DTranspose(64, 4, strides 2, padding 'same': auto_pad SAME_UPPER) ->
Conv2D 5 same x2 -> Conv2D 7 same to 3 channels -> tanh -> Transpose to NHWC (N, 32, 32, 3).
"""
from __future__ import annotations

import numpy as np
import onnx

from onnxport.models._builder import NetBuilder


def build(latent: int = 32, dense_channels: int = 32, width: int = 64, seed: int = 7,
          opset: int = 17) -> onnx.ModelProto:
    net = NetBuilder("keras_gan2d", seed=seed, opset=opset)
    z = net.input("z", ["N", latent])
    x = net.op("MatMul", [z, net.weight([latent, 16 * 16 * dense_channels], latent, "dense_w")], "dense")
    x = net.op("Add", [x, net.bias(16 * 16 * dense_channels, "dense_b")], "dense_biased")
    x = net.op("LeakyRelu", [x], alpha=0.2)
    x = net.op("Reshape", [x, net.const(np.array([-1, 16, 16, dense_channels], np.int64), "shape")], "nhwc")
    x = net.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = net.op("LeakyRelu", [net.conv(x, dense_channels, width, [5, 5], "conv0", pads=[2] * 4)], alpha=0.2)
    x = net.conv_transpose(x, width, width, [4, 4], stem="deconv", strides=[2, 2], auto_pad="SAME_UPPER")
    x = net.op("LeakyRelu", [x], alpha=0.2)
    for i in (1, 2):
        x = net.op("LeakyRelu", [net.conv(x, width, width, [5, 5], f"conv{i}", pads=[2] * 4)], alpha=0.2)
    x = net.op("Tanh", [net.conv(x, width, 3, [7, 7], "to_rgb", pads=[3] * 4)])
    net.output(net.op("Transpose", [x], "image", perm=[0, 2, 3, 1]), ["N", 32, 32, 3])
    return net.build(doc=__doc__)
