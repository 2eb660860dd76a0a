"""large_unet3d: a deep residual 3-D U-Net of any size, written straight to a folder with external data.

The scale tests and benchmarks need what people really port (GB of weights, thousands of nodes) without
committing it or holding it in memory: weights are drawn and appended to one external-data file as the
graph is built, so generating a 2 GB model costs its disk, not its size in memory.

X (N, 1, D, H, W), sizes multiples of 2**(levels-1) -> per level a stem Conv and `blocks[level]` residual
blocks [Conv k3, ReLU, Conv k3, Add, ReLU], MaxPool between levels; the decoder goes up by
ConvTranspose k2 s2 on odd levels and by a trilinear 5-D Resize x2 + Conv k1 on even ones, then Concat
skip, Conv k3, ReLU; a Conv 1x1x1 head. Widths double per level up to `deep_width` at the last.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx
from onnx import TensorProto, helper

from onnxport.models._builder import IR_VERSION, PRODUCER, NetBuilder

DEFAULT_BLOCKS = (200, 200, 180, 40)        # ~3,100 nodes
DEFAULT_WIDTHS = (32, 64, 128, 256)         # with DEFAULT_BLOCKS: 1.43 GB of float32 weights
EXTERNAL_FROM = 1024                        # bytes; smaller tensors stay in the protobuf


class _StreamedNet(NetBuilder):
    """A NetBuilder whose weights go to an open external-data file as they are made."""

    def __init__(self, name: str, data: BinaryIO, location: str, **kwargs):
        super().__init__(name, **kwargs)
        self.data, self.location = data, location

    def const(self, array, stem: str = "const") -> str:
        array = np.ascontiguousarray(array)
        if array.nbytes < EXTERNAL_FROM:
            return super().const(array, stem)
        name = self._name(stem)
        tensor = TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape,
                             data_location=TensorProto.EXTERNAL)
        for key, value in (("location", self.location), ("offset", str(self.data.tell())),
                           ("length", str(array.nbytes))):
            tensor.external_data.add(key=key, value=value)
        self.data.write(array.tobytes())
        self.initializers.append(tensor)
        return name

    def weight(self, shape, fan_in: int, stem: str = "w", gain: float = 1.0) -> str:
        """float32 draws in place (the base class draws float64 first: 2x the memory at GB scale)."""
        w = self.rng.standard_normal(shape, dtype=np.float32)
        w *= np.float32(np.sqrt(2.0 / max(1, fan_in)) * gain)
        return self.const(w, stem)


def write(folder: str | Path, *, blocks=DEFAULT_BLOCKS, widths=DEFAULT_WIDTHS, seed: int = 11,
          opset: int = 17, name: str = "large_unet3d.onnx") -> Path:
    """Build the net into folder/name (+ name.data); returns the model's path."""
    folder = Path(folder)
    path, location = folder / name, name + ".data"
    with open(folder / location, "wb") as data:
        net = _StreamedNet("large_unet3d", data, location, seed=seed, opset=opset)
        _unet(net, blocks, widths)
        model = _finish(net)
    onnx.save_model(model, str(path))
    return path


def _unet(net: NetBuilder, blocks, widths) -> None:
    x = net.input("X", ["N", 1, "D", "H", "W"])
    same = {"pads": [1] * 6}
    skips, channels = [], 1
    for level, width in enumerate(widths):
        if level:
            x = net.op("MaxPool", [x], f"pool{level}", kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        x = net.op("Relu", [net.conv(x, channels, width, [3, 3, 3], f"stem{level}", **same)])
        for b in range(blocks[level]):
            y = net.op("Relu", [net.conv(x, width, width, [3, 3, 3], f"l{level}b{b}a", **same)])
            # a small residual branch keeps activations finite through hundreds of blocks (as init schemes do)
            y = net.conv(y, width, width, [3, 3, 3], f"l{level}b{b}b", gain=1 / (2 * blocks[level]), **same)
            x = net.op("Relu", [net.op("Add", [x, y], f"l{level}b{b}add")])
        skips.append((x, width))
        channels = width
    skips.pop()
    for level, (skip, width) in reversed(list(enumerate(skips))):
        if level % 2:
            x = net.conv_transpose(x, channels, width, [2, 2, 2], stem=f"up{level}", strides=[2, 2, 2])
        else:
            scales = net.const(np.array([1, 1, 2, 2, 2], np.float32), f"up{level}_scales")
            x = net.op("Resize", [x, "", scales], f"up{level}_resize", mode="linear",
                       coordinate_transformation_mode="half_pixel")
            x = net.conv(x, channels, width, [1, 1, 1], f"up{level}")
        x = net.op("Concat", [x, skip], f"join{level}", axis=1)
        x = net.op("Relu", [net.conv(x, 2 * width, width, [3, 3, 3], f"dec{level}", **same)])
        channels = width
    net.output(net.conv(x, channels, 2, [1, 1, 1], "head"), ["N", 2, "D", "H", "W"])


def _finish(net: NetBuilder) -> onnx.ModelProto:
    """The model without the in-memory checks of NetBuilder.build (they would read the external data)."""
    graph = helper.make_graph(net.nodes, net.name, net.inputs, net.outputs, net.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", net.opset)], producer_name=PRODUCER,
                              doc_string=(__doc__ or "").splitlines()[0])
    model.ir_version = IR_VERSION
    return model
