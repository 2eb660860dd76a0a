"""pool3d-to-pool2d: a MaxPool/AveragePool/LpPool with 3 spatial dims -> a 2-D pool, then a pool over depth.

Identity: a 3-D pooling window is a box, the product of a depth interval and an (H, W) window, and its
valid (non-pad) part is the product of the per-axis valid parts. So the max over the box is the max over
depth of the maxes over (H, W); the average (count_include_pad either way: the divisor factorises with
the window) is the average over depth of the averages over (H, W); the p-norm is the p-norm over depth
of the p-norms over (H, W). Step (1) pools (H, W) with channels and depth folded together,
(N, C*D, H, W); step (2) pools depth on (N, C, D, H'*W') with window (k_d, 1). Strides, dilations,
pads and ceil_mode act per axis and are split the same way.
Preconditions: one output (no MaxPool indices); auto_pad NOTSET/VALID (SAME pads change with the size).
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder, text_attr
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions

PER_AXIS = ("ceil_mode", "count_include_pad", "p", "storage_order")


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    kernel = node.attrs.get("kernel_shape")
    if kernel is None or len(kernel) != 3:
        return None
    indices = node.outputs[1] if len(node.outputs) > 1 and node.outputs[1].name else None
    if indices is not None and (indices.outputs or indices in graph.outputs):
        return Skip("its Indices output is used")
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID"):
        return Skip(f"auto_pad {auto_pad}: its pads change with the input size")
    return Match((node,), node.inputs[0], node.outputs[0])


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    attrs = dict(node.attrs)
    node.outputs.clear()
    node.inputs.clear()
    k = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides", [1, 1, 1]))
    dilations = list(attrs.get("dilations", [1, 1, 1]))
    pads = [0] * 6 if attrs.get("auto_pad") in ("VALID", b"VALID") else list(attrs.get("pads", [0] * 6))
    common = {key: attrs[key] for key in PER_AXIS if key in attrs}
    dilated = {"dilations": dilations} if "dilations" in attrs else {}
    hw = dict(common, kernel_shape=k[1:], strides=strides[1:], pads=[pads[1], pads[2], pads[4], pads[5]],
              **({"dilations": dilations[1:]} if dilated else {}))
    depth = dict(common, kernel_shape=[k[0], 1], strides=[strides[0], 1], pads=[pads[0], 0, pads[3], 0],
                 **({"dilations": [dilations[0], 1]} if dilated else {}))
    dtype = m.x.dtype
    v = b.reshape(m.x, m.x, [Dim(1, (0,)), Dim(1, (1, 2)), Dim(1, (3,)), Dim(1, (4,))], stem="depth_in_channels")
    z = b.op(node.op, [v], hw, stem="pool_hw", dtype=dtype)
    u = b.reshape(z, m.x, [Dim(1, (0,)), Dim(1, (1,)), Dim(1, (2,)), Dim(1, (2, 3), of=z)], stem="depth_rows")
    y = b.op(node.op, [u], depth, stem="pool_depth", dtype=dtype)
    y = b.reshape(y, m.x, [Dim(1, (0,)), Dim(1, (1,)), Dim(1, (2,), of=y), Dim(1, (2,), of=z), Dim(1, (3,), of=z)],
                  stem="volume")
    y.inputs[0].outputs[0] = m.y


PASS = register(Pass(
    name="pool3d-to-pool2d",
    summary="3-D MaxPool/AveragePool/LpPool -> 2-D pool over (H, W) + pool over depth, exact",
    anchor_ops=("MaxPool", "AveragePool", "LpPool"),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.of_spatial_rank(("MaxPool", "AveragePool", "LpPool"), 3),),
    matches=Match,
    doc=__doc__,
))
