"""Single-Resize nets with every attribute settable (the unit of the Resize tests and benchmarks), and
the PyTorch export of interpolate(size=other.shape[2:]), whose sizes are computed from Shape ops."""
from __future__ import annotations

import numpy as np
import onnx

from onnxport.models._builder import NetBuilder


def build(shape, scales=None, sizes=None, *, roi=None, axes=None, mode: str = "nearest", opset: int = 19,
          constant_inputs: bool = True, consumer: str | None = "Relu", **attrs) -> onnx.ModelProto:
    """X (shape; names for symbolic dims) -> Resize [-> consumer] -> Y. attrs: any Resize attribute.

    opset 10 takes (X, scales); from 11 (X, roi, scales, sizes). constant_inputs=False makes scales,
    sizes and roi graph inputs, as onnx's node tests do.
    """
    net = NetBuilder("resize", opset=opset)
    x = net.input("X", list(shape))
    attrs = dict(attrs, mode=mode)
    if axes is not None:
        attrs["axes"] = list(axes)

    def tensor(name, value, dtype):
        value = np.asarray(value, dtype)
        if constant_inputs:
            return net.const(value, name)
        return net.input(name, list(value.shape), onnx.helper.np_dtype_to_tensor_dtype(value.dtype))

    if opset < 11:
        inputs = [x, tensor("scales", scales, np.float32)]
    else:
        inputs = [x, tensor("roi", roi, np.float32) if roi is not None else "",
                  tensor("scales", scales, np.float32) if scales is not None else "",
                  tensor("sizes", sizes, np.int64) if sizes is not None else ""]
        while inputs[-1] == "":
            inputs.pop()
        if opset < 13:       # roi and scales are required inputs there, empty when unused
            inputs = [i if i != "" else net.const(np.zeros(0, np.float32), "empty") for i in inputs]
    y = net.op("Resize", inputs, "resize", **attrs)
    if consumer:
        y = net.op(consumer, [y], consumer.lower())
    net.output(y)
    return net.build(doc=f"one Resize {attrs}")


def interpolate_like(channels: int = 3, mode: str = "linear", opset: int = 17) -> onnx.ModelProto:
    """X (N, C, D, H, W) resized to the spatial size of R, as torch.onnx exports
    F.interpolate(x, size=r.shape[2:], mode='trilinear'): sizes = Concat(Shape(X)[0:2], Shape(R)[2:])."""
    net = NetBuilder("interpolate_like", opset=opset)
    x = net.input("X", ["N", channels, "D", "H", "W"])
    r = net.input("R", ["N", 1, "D2", "H2", "W2"])
    head = net.op("Slice", [net.op("Shape", [x], "x_shape"), net.const(np.array([0]), "zero"),
                            net.const(np.array([2]), "two")], "batch_channels")
    tail = net.op("Slice", [net.op("Shape", [r], "r_shape"), net.const(np.array([2]), "from"),
                            net.const(np.array([5]), "to")], "spatial")
    sizes = net.op("Concat", [head, tail], "sizes", axis=0)
    roi = net.const(np.zeros(0, np.float32), "roi")
    scales = net.const(np.zeros(0, np.float32), "scales")
    y = net.op("Resize", [x, roi, scales, sizes], "resize", mode=mode, coordinate_transformation_mode="half_pixel")
    net.output(net.op("Relu", [y], "relu"))
    return net.build(doc=interpolate_like.__doc__)
