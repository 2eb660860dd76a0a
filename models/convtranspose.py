"""Single-ConvTranspose nets with every attribute settable: the unit of the equivalence tests and benchmarks."""
from __future__ import annotations

import onnx

from onnxport.models._builder import NetBuilder


def build(spatial, cin: int = 2, cout: int = 3, kernel=None, *, strides=None, pads=None, dilations=None,
          output_padding=None, group: int = 1, auto_pad: str | None = None, output_shape=None,
          bias: bool = True, batch=1, consumer: str | None = None, opset: int = 17, seed: int = 0) -> onnx.ModelProto:
    """X (batch, cin, *spatial) -> ConvTranspose [-> consumer] -> Y.

    spatial / batch entries may be ints or dim names (symbolic). Attributes left as None are omitted, so
    the node uses the ONNX defaults; consumer (e.g. "Relu", or a chain "Relu+GlobalAveragePool") follows the
    op as in a real net.
    """
    nd = len(spatial)
    kernel = list(kernel or [3] * nd)
    attrs = {"group": group}
    for key, value in (("strides", strides), ("pads", pads), ("dilations", dilations),
                       ("output_padding", output_padding), ("auto_pad", auto_pad), ("output_shape", output_shape)):
        if value is not None:
            attrs[key] = value
    net = NetBuilder(f"convtranspose{nd}d", seed=seed, opset=opset)
    x = net.input("X", [batch, cin] + list(spatial))
    y = net.conv_transpose(x, cin, cout, kernel, stem="ct", bias=bias, **attrs)
    for op in consumer.split("+") if consumer else []:
        y = net.op(op, [y], op.lower())
    net.output(y)
    return net.build(doc=f"one ConvTranspose {attrs}, kernel {kernel}")

