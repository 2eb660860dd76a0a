"""lenet: a LeNet-style digit classifier on 28x28 grey images, with a Flatten/Gemm head.

X (N, 1, 28, 28) -> Conv 5x5x20 -> MaxPool 2 s2 -> Conv 5x5x50 -> MaxPool 2 s2 -> Flatten -> Gemm 500
-> ReLU -> Gemm 10 -> Softmax: (N, 10) class probabilities. Total stride 4: made fully convolutional it
slides over larger images in steps of 4, and with --dense in steps of 1.
"""
from __future__ import annotations

import numpy as np
import onnx

from onnxport.models._builder import NetBuilder


def build(seed: int = 41, opset: int = 17) -> onnx.ModelProto:
    net = NetBuilder("lenet", seed=seed, opset=opset)
    x = net.input("X", ["N", 1, 28, 28])
    x = net.conv(x, 1, 20, [5, 5], "conv1")
    x = net.op("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = net.conv(x, 20, 50, [5, 5], "conv2")
    x = net.op("MaxPool", [x], "pool2", kernel_shape=[2, 2], strides=[2, 2])
    x = net.op("Flatten", [x], "flatten", axis=1)
    x = net.op("Gemm", [x, net.weight([500, 800], 800, "fc1_w"), net.bias(500, "fc1_b")], "fc1", transB=1)
    x = net.op("Relu", [x], "fc1_act")
    x = net.op("Gemm", [x, net.weight([10, 500], 500, "fc2_w"), net.bias(10, "fc2_b")], "fc2", transB=1)
    net.output(net.op("Softmax", [x], "probabilities", axis=1), ["N", 10])
    return net.build(doc=__doc__)
