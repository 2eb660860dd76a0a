"""conv3d-to-conv2d: a Conv with 3 spatial dims -> two 2-D Convs (exact).

Identity: a Conv is separable into its depth taps. With x_i the depth slice i and W_t the 2-D kernel
of depth tap t,
    y[:, :, o] = bias + sum over t of Conv2D(x_{s_d*o + d_d*t - p_d}, W_t)          (zero outside x)
so (1) fold depth into the batch and run one 2-D Conv over (H, W) whose output channels are (C_out,
depth tap) - its weight is W with the depth axis moved next to C_out, no data moves; then (2) the depth
sum is itself a 2-D Conv over (D, H'*W') with kernel (k_d, 1), stride (s_d, 1), dilation (d_d, 1), the
depth pads, group C_out and a 0/1 weight picking tap t's channel at depth offset d_d*t; the bias rides
there. For runtimes with 2-D but not 3-D convolution; every tensor has rank <= 5. With depth stride
s_d > 1 step (1) computes every depth slice, s_d times the MACs of the depth positions kept.
Preconditions: W constant or of static shape; auto_pad NOTSET/VALID (SAME pads change with the size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder, constant_value, text_attr, weight_shape
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    weight: gs.Tensor
    weight_value: np.ndarray | None
    bias: gs.Tensor | None
    kernel: tuple[int, int, int]
    strides: tuple[int, int, int]
    dilations: tuple[int, int, int]
    pads: tuple[int, ...]
    group: int


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    w = node.inputs[1]
    shape = weight_shape(w)
    if shape is None or len(shape) != 5:
        return None
    if any(not isinstance(d, int) for d in shape):
        return Skip("the weight's shape is not static")
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID"):
        return Skip(f"auto_pad {auto_pad}: its pads change with the input size")
    pads = [0] * 6 if auto_pad == "VALID" else list(node.attrs.get("pads", [0] * 6))
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
    return Match((node,), node.inputs[0], node.outputs[0], w, constant_value(w), bias, tuple(shape[2:]),
                 tuple(node.attrs.get("strides", [1, 1, 1])), tuple(node.attrs.get("dilations", [1, 1, 1])),
                 tuple(pads), int(node.attrs.get("group", 1)))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()
    cout, cin_g = _weight_dims(m)
    k_d = m.kernel[0]
    dtype = m.x.dtype
    # (1) depth into the batch; one 2-D Conv with (C_out, depth tap) output channels
    t = b.op("Transpose", [m.x], {"perm": [0, 2, 1, 3, 4]}, stem="depth_first", dtype=dtype)
    v = b.reshape(t, m.x, [Dim(1, (0, 2)), Dim(cin_g * m.group), Dim(1, (3,)), Dim(1, (4,))], stem="depth_in_batch")
    attrs = {"kernel_shape": list(m.kernel[1:]), "strides": list(m.strides[1:]), "dilations": list(m.dilations[1:]),
             "pads": [m.pads[1], m.pads[2], m.pads[4], m.pads[5]], "group": m.group}
    z = b.op("Conv", [v, _taps_weight(b, m, cout, cin_g)], attrs, stem="conv_hw", dtype=dtype,
             shape=[None, cout * k_d, None, None])
    # (2) the depth sum: (N, C_out*k_d, D, H'*W') -> (N, C_out, D', H'*W')
    u = b.reshape(z, m.x, [Dim(1, (0,)), Dim(1, (2,)), Dim(cout * k_d), Dim(1, (2, 3), of=z)], stem="taps_by_depth")
    u = b.op("Transpose", [u], {"perm": [0, 2, 1, 3]}, stem="depth_last", dtype=dtype)
    pick = np.zeros((cout, k_d, k_d, 1), dtype)
    pick[:, np.arange(k_d), np.arange(k_d), 0] = 1
    inputs = [u, b.const(pick, "pick")] + ([m.bias] if m.bias is not None else [])
    attrs = {"kernel_shape": [k_d, 1], "strides": [m.strides[0], 1], "dilations": [m.dilations[0], 1],
             "pads": [m.pads[0], 0, m.pads[3], 0], "group": cout}
    y = b.op("Conv", inputs, attrs, stem="conv_depth", dtype=dtype)
    y = b.reshape(y, m.x, [Dim(1, (0,)), Dim(cout), Dim(1, (2,), of=y), Dim(1, (2,), of=z), Dim(1, (3,), of=z)],
                  stem="volume")
    y.inputs[0].outputs[0] = m.y


def _weight_dims(m: Match) -> tuple[int, int]:
    shape = m.weight_value.shape if m.weight_value is not None else m.weight.shape
    return int(shape[0]), int(shape[1])


def _taps_weight(b: GraphBuilder, m: Match, cout: int, cin_g: int) -> gs.Tensor:
    """(C_out, C_in/g, k_d, k_h, k_w) -> (C_out*k_d, C_in/g, k_h, k_w), channel (co, t)."""
    k_d, k_h, k_w = m.kernel
    if m.weight_value is not None:
        w = np.ascontiguousarray(m.weight_value.transpose(0, 2, 1, 3, 4)).reshape(cout * k_d, cin_g, k_h, k_w)
        return b.const(w, "weight_hw")
    w = b.op("Transpose", [m.weight], {"perm": [0, 2, 1, 3, 4]}, stem="taps_first", dtype=m.weight.dtype)
    return b.op("Reshape", [w, b.ints([cout * k_d, cin_g, k_h, k_w], "taps_shape")], stem="weight_hw",
                dtype=m.weight.dtype)


PASS = register(Pass(
    name="conv3d-to-conv2d",
    summary="3-D Conv -> 2-D Conv over (H, W) with depth in the batch + 2-D Conv for the depth sum, exact",
    anchor_ops=("Conv",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.of_spatial_rank(("Conv",), 3),),
    matches=Match,
    doc=__doc__,
))
