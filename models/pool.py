"""Single-pool nets (MaxPool, AveragePool, LpPool) with every attribute settable: the unit of the
pool3d-to-pool2d tests."""
from __future__ import annotations

import onnx

from onnxport.models._builder import NetBuilder


def build(op: str, spatial, kernel, *, channels: int = 2, batch=1, opset: int = 19, **attrs) -> onnx.ModelProto:
    """X (batch, channels, *spatial) -> op -> Y. attrs: strides, pads, dilations, ceil_mode,
    count_include_pad, p, auto_pad, ... as the op takes them."""
    net = NetBuilder(f"{op.lower()}{len(spatial)}d", opset=opset)
    x = net.input("X", [batch, channels] + list(spatial))
    net.output(net.op(op, [x], op.lower(), kernel_shape=list(kernel), **attrs))
    return net.build(doc=f"one {op} {attrs}, kernel {list(kernel)}")
