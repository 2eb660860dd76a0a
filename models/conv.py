"""Single-Conv nets with every attribute settable: the unit of the conv3d-to-conv2d tests and benchmarks."""
from __future__ import annotations

import onnx

from onnxport.models._builder import NetBuilder


def build(spatial, cin: int = 2, cout: int = 3, kernel=None, *, strides=None, pads=None, dilations=None,
          group: int = 1, auto_pad: str | None = None, bias: bool = True, batch=1, consumer: str | None = None,
          opset: int = 17, seed: int = 0) -> onnx.ModelProto:
    """X (batch, cin, *spatial) -> Conv [-> consumer] -> Y; dims may be names (symbolic); attributes left
    as None are omitted (ONNX defaults)."""
    kernel = list(kernel or [3] * len(spatial))
    attrs = {"group": group, **{k: v for k, v in (("strides", strides), ("pads", pads), ("dilations", dilations),
                                                  ("auto_pad", auto_pad)) if v is not None}}
    net = NetBuilder(f"conv{len(spatial)}d", seed=seed, opset=opset)
    y = net.conv(net.input("X", [batch, cin] + list(spatial)), cin, cout, kernel, stem="conv", bias=bias, **attrs)
    if consumer:
        y = net.op(consumer, [y], consumer.lower())
    net.output(y)
    return net.build(doc=f"one Conv {attrs}, kernel {kernel}")
