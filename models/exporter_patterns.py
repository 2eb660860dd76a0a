"""Up-sampling and deconvolution as exporters write them, for the fuse passes to recognise.

- upsample_conv: nn.Upsample(scale_factor, 'nearest') then a Conv, as PyTorch exports it (Resize with
  asymmetric/floor, or any repeat-equivalent mode), a common 3-D decoder block;
- conv_upsample: a 1x1 Conv then the nearest Resize;
- tf2onnx_deconv: a Keras Conv{2,3}DTranspose exported with dynamic sizes: ConvTranspose without pads or
  bias, a Slice whose bounds come from Shape ops (crop to the 'same' size, or a zero Pad when the full
  output is shorter), then the bias as a separate Add;
- gelu: a Linear then exact GELU in the order each torch.onnx exporter writes it (dynamo: x * (0.5 *
  (1 + erf(x/sqrt2))); TorchScript: (x * (1 + erf(x/sqrt2))) * 0.5), with the factors in either order.
Weights can be initializers or, as exporters do, Constant nodes, or behind Identity or Cast.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from onnxport.models._builder import NetBuilder


def _weight(net: NetBuilder, shape, fan_in: int, how: str, stem: str) -> str:
    w = (net.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    if how == "cast":
        w = w.astype(np.float16).astype(np.float32)        # exactly representable after the cast
    return net.const_as(w, how, stem)


def _resize(net: NetBuilder, x: str, scales, coordinate: str, nearest: str, mode: str = "nearest") -> str:
    roi = net.const(np.zeros(0, np.float32), "roi")
    return net.op("Resize", [x, roi, net.const(np.asarray([1, 1] + list(scales), np.float32), "scales")], "upsample",
                  mode=mode, coordinate_transformation_mode=coordinate, nearest_mode=nearest)


def upsample_conv(spatial=("D", "H", "W"), cin: int = 4, cout: int = 3, scales=(2, 2, 2), kernel=3, pads=1,
                  group: int = 1, bias: bool = True, weights: str = "initializer", coordinate: str = "asymmetric",
                  nearest: str = "floor", mode: str = "nearest", seed: int = 11, opset: int = 17) -> onnx.ModelProto:
    n = len(spatial)
    kernel = [kernel] * n if isinstance(kernel, int) else list(kernel)
    padding = {"auto_pad": pads} if isinstance(pads, str) else \
        {"pads": [pads] * (2 * n) if isinstance(pads, int) else list(pads)}       # pads: a number, a list or SAME_*
    net = NetBuilder("upsample_conv", seed=seed, opset=opset)
    x = _resize(net, net.input("X", ["N", cin] + list(spatial)), scales, coordinate, nearest, mode)
    inputs = [x, _weight(net, [cout, cin // group] + kernel, cin // group * int(np.prod(kernel)), weights, "conv_w")]
    if bias:
        inputs.append(net.const_as(net.rng.standard_normal(cout).astype(np.float32) * 0.1, "initializer", "conv_b"))
    y = net.op("Conv", inputs, "conv", kernel_shape=kernel, group=group, **padding)
    net.output(net.op("Relu", [y], "act"))
    return net.build(doc=__doc__)


def conv_upsample(spatial=("D", "H", "W"), cin: int = 4, cout: int = 3, scales=(2, 2, 2), group: int = 1,
                  weights: str = "initializer", coordinate: str = "asymmetric", nearest: str = "floor",
                  seed: int = 12, opset: int = 17) -> onnx.ModelProto:
    n = len(spatial)
    net = NetBuilder("conv_upsample", seed=seed, opset=opset)
    x = net.input("X", ["N", cin] + list(spatial))
    w = _weight(net, [cout, cin // group] + [1] * n, cin // group, weights, "conv_w")
    y = net.op("Conv", [x, w, net.bias(cout, "conv_b")], "pointwise", kernel_shape=[1] * n, group=group)
    net.output(net.op("Relu", [_resize(net, y, scales, coordinate, nearest)], "act"))
    return net.build(doc=__doc__)


def tf2onnx_deconv(spatial=("D", "H", "W"), cin: int = 4, cout: int = 3, kernel=3, strides=2,
                   weights: str = "initializer", seed: int = 13, opset: int = 17) -> onnx.ModelProto:
    """Keras Conv*DTranspose(padding='same') with dynamic sizes, as tf2onnx emits it."""
    n = len(spatial)
    kernel = [kernel] * n if isinstance(kernel, int) else list(kernel)
    strides = [strides] * n if isinstance(strides, int) else list(strides)
    net = NetBuilder("tf2onnx_deconv", seed=seed, opset=opset)
    x = net.input("X", ["N", cin] + list(spatial))
    w = _weight(net, [cin, cout] + kernel, cin * int(np.prod(kernel)), weights, "kernel")
    full = net.op("ConvTranspose", [x, w], "conv_transpose", kernel_shape=kernel, strides=strides)
    spatial_axes = net.const(np.arange(2, 2 + n, dtype=np.int64), "spatial_axes")
    wanted = net.op("Mul", [net.op("Gather", [net.op("Shape", [x], "in_shape"), spatial_axes], "in_hw", axis=0),
                            net.const(np.asarray(strides, np.int64), "strides")], "wanted")
    got = net.op("Gather", [net.op("Shape", [full], "out_shape"), spatial_axes], "out_hw", axis=0)
    extra = net.op("Sub", [got, wanted], "extra")
    zero = net.const(np.zeros(n, np.int64), "zero")
    start = net.op("Div", [net.op("Max", [extra, zero], "crop"), net.const(np.full(n, 2, np.int64), "two")], "start")
    end = net.op("Add", [start, net.op("Min", [wanted, got], "kept")], "end")
    y = net.op("Slice", [full, start, end, spatial_axes], "cropped")
    if any(s > k for s, k in zip(strides, kernel)):            # the full output is shorter: pad zeros
        short = net.op("Max", [net.op("Sub", [wanted, got], "short"), zero], "short_pos")
        pads = net.op("Concat", [net.const(np.zeros(n + 4, np.int64), "no_pad"), short], "pads", axis=0)
        y = net.op("Pad", [y, pads], "padded")
    b = net.const_as((0.1 * net.rng.standard_normal([1, cout] + [1] * n)).astype(np.float32), "initializer", "bias")
    net.output(net.op("Add", [y, b], "biased"), ["N", cout] + [f"{d}_out" if isinstance(d, str) else d * s
                                                               for d, s in zip(spatial, strides)], TensorProto.FLOAT)
    return net.build(doc=__doc__)


def gelu(order: str = "dynamo", features: int = 8, scale: float = 0.5, swap: bool = False, seed: int = 5,
         opset: int = 18) -> onnx.ModelProto:
    """X (N, T, features) -> MatMul + Add -> GELU in `order` ("dynamo" or "torchscript"); `swap` puts
    every constant first; `scale` replaces the 0.5 (a non-GELU product when it is not a power of two)."""
    net = NetBuilder(f"gelu_{order}", seed=seed, opset=opset)
    pair = (lambda a, b: [b, a]) if swap else (lambda a, b: [a, b])
    x = net.input("X", ["N", "T", features])
    w = net.const((net.rng.standard_normal([features, features]) * 2).astype(np.float32), "w")
    h = net.op("Add", [net.op("MatMul", [x, w], "linear"), net.bias(features)], "linear_biased")
    erf = net.op("Erf", [net.op("Div", [h, net.const(np.float32(np.sqrt(2)), "sqrt2")], "scaled")], "erf")
    term = net.op("Add", pair(erf, net.const(np.float32(1), "one")), "one_plus_erf")
    half = net.const(np.float32(scale), "half")
    if order == "dynamo":
        y = net.op("Mul", pair(h, net.op("Mul", pair(term, half), "halved")), "gelu")
    else:
        y = net.op("Mul", pair(net.op("Mul", [h, term], "product"), half), "gelu")
    net.output(y, ["N", "T", features])
    return net.build(doc=f"GELU as the {order} exporter writes it")
