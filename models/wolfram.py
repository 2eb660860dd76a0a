"""wolfram_resize3d: a 3-D resize made of 2-D resizes joined by Reshape/Transpose, then a 1x1x1 Conv (linear).

The community workaround this toolkit grew from, as an exporter from such a tool (Wolfram's
ResizeLayer resizes two spatial dims) writes it, with static sizes:

    X (N, C, D, H, W) -> Reshape (N, C*D, H, W)        "flatten channel with depth"
      -> Resize x (2, 2) on (H, W) -> Reshape (N, C, D, 2H, 2W)
      -> Transpose D <-> H -> Reshape (N, C*2H, D, 2W) -> Resize x (2, 1) on (D, W)
      -> Reshape (N, C, 2H, 2D, 2W) -> Transpose back -> 1x1x1 Conv

`--fuse` folds it into one 5-D Resize, and for nearest, with the 1x1x1 Conv, into one ConvTranspose
with kernel == stride.
"""
from __future__ import annotations

import numpy as np
import onnx

from onnxport.models._builder import NetBuilder


def build(mode: str = "linear", shape=(1, 4, 6, 8, 10), cout: int = 3, seed: int = 21, opset: int = 17) -> onnx.ModelProto:
    n, c, d, h, w = shape
    net = NetBuilder(f"wolfram_resize3d_{mode}", seed=seed, opset=opset)
    attrs = {"mode": mode, "coordinate_transformation_mode": "half_pixel" if mode == "linear" else "asymmetric"}
    if mode == "nearest":
        attrs["nearest_mode"] = "floor"
    roi = net.const(np.zeros(0, np.float32), "roi")

    def reshape(x, dims, stem):
        return net.op("Reshape", [x, net.const(np.asarray(dims, np.int64), stem + "_shape")], stem)

    def resize(x, scales, stem):
        return net.op("Resize", [x, roi, net.const(np.asarray([1, 1] + scales, np.float32), stem + "_scales")],
                      stem, **attrs)

    x = net.input("X", list(shape))
    y = reshape(x, [n, c * d, h, w], "flatten_cd")
    y = resize(y, [2, 2], "resize_hw")
    y = reshape(y, [n, c, d, 2 * h, 2 * w], "unflatten_cd")
    y = net.op("Transpose", [y], "swap_dh", perm=[0, 1, 3, 2, 4])
    y = reshape(y, [n, c * 2 * h, d, 2 * w], "flatten_ch")
    y = resize(y, [2, 1], "resize_d")
    y = reshape(y, [n, c, 2 * h, 2 * d, 2 * w], "unflatten_ch")
    y = net.op("Transpose", [y], "swap_back", perm=[0, 1, 3, 2, 4])
    y = net.conv(y, c, cout, [1, 1, 1], "mix")
    net.output(y, [n, cout, 2 * d, 2 * h, 2 * w])
    return net.build(doc=__doc__)


def build_nearest() -> onnx.ModelProto:
    """The same chain with nearest (asymmetric, floor) resizes, which --fuse turns into a ConvTranspose."""
    return build("nearest")
