"""pad-to-concat: a Pad of a tensor of fixed shape -> Slices and Concats, exact (bitwise).

Identity: along one axis, Pad(x, before, after) = Concat([block_before, x, block_after]) where a constant
pad's block is full(extent, value), an edge pad's is the border sample repeated (`extent` copies of a
one-sample Slice) and a reflect pad's is the samples next to the border in reverse (a Slice with step -1);
a negative constant pad removes that many samples (a Slice). Padding is separable in all three modes:
doing the axes one after another, each later block spanning the already padded extent of the earlier
axes, gives the corners Pad gives. Every output sample is a copy of an input sample or the value itself.
Pads of 0 on every axis are an Identity, whatever the mode.
Preconditions: mode constant, edge or reflect (negative pads: constant only; reflect: each pad shorter
than its axis); pads, axes and the value constant; the input's shape fixed (the blocks are constants or
fixed slices: the runtimes that lack Pad, CoreML's ML Program, lack ConstantOfShape too; `--fix-sizes`
gives fixed shapes); constant blocks at most MAX_BLOCK_BYTES together (they are stored in the model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value, known_dims, text_attr
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions

MAX_BLOCK_BYTES = 64 << 20


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    dims: tuple[int, ...]                   # the input's fixed shape
    pads: tuple[tuple[int, int], ...]       # (before, after) per axis
    value: np.ndarray                       # the pad value, as a 0-d array of the input's dtype
    mode: str                               # constant, edge or reflect


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if node.op != "Pad":
        return None
    mode = text_attr(node, "mode", "constant")
    if mode not in ("constant", "edge", "reflect"):
        return Skip(f"Pad '{node.name}' in mode {mode} (constant, edge and reflect padding are concatenations)")
    x = node.inputs[0]
    rank = len(x.shape) if x.shape is not None else None
    dims = known_dims(x, rank) if rank is not None else [None]
    if rank is None or None in dims:
        return Skip(f"Pad '{node.name}' pads a tensor of unknown shape (fixed sizes make it known: --fix-sizes)")
    given = _inputs(node)
    if given is None:
        return Skip(f"Pad '{node.name}' has computed pads, axes or value")
    pads, axes, value = given
    axes = [a % rank for a in (axes if axes is not None else range(rank))]
    if len(pads) != 2 * len(axes):
        return None                         # malformed: the model checks name it
    per_axis = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        per_axis[axis] = (int(pads[i]), int(pads[i + len(axes)]))
    if mode != "constant" and any(p != (0, 0) for p in per_axis):
        if any(min(p) < 0 for p in per_axis):
            return Skip(f"Pad '{node.name}' in mode {mode} with negative pads")
        if mode == "reflect" and any(max(p) >= d for p, d in zip(per_axis, dims)):
            return Skip(f"Pad '{node.name}': a reflect pad as long as its axis")
    dtype = np.dtype(x.dtype or np.float32)
    shape, block_bytes = list(dims), 0
    for axis, (before, after) in enumerate(per_axis):
        shape[axis] += min(before, 0) + min(after, 0)
        for extent in (before, after):
            if extent > 0 and mode == "constant":
                block_bytes += int(np.prod(shape[:axis] + [extent] + shape[axis + 1:])) * dtype.itemsize
        shape[axis] += max(before, 0) + max(after, 0)
    if block_bytes > MAX_BLOCK_BYTES:
        return Skip(f"Pad '{node.name}': its blocks of the pad value would take {block_bytes >> 20} MiB in the model")
    return Match((node,), x, node.outputs[0], tuple(dims), tuple(per_axis), np.asarray(value, dtype).reshape(()), mode)


def _inputs(node: gs.Node):
    """(pads, axes or None, value) read from the node's inputs (opset >= 11)."""
    pads = constant_value(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1].name else None
    value = constant_value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2].name else 0
    axes = constant_value(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3].name else None
    if pads is None or value is None or (len(node.inputs) > 3 and node.inputs[3].name and axes is None):
        return None
    return [int(p) for p in np.asarray(pads).reshape(-1)], (None if axes is None else
                                                            [int(a) for a in np.asarray(axes).reshape(-1)]), value


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    node.inputs.clear()
    node.outputs.clear()
    t, shape = m.x, list(m.dims)
    for axis, (before, after) in enumerate(m.pads):
        if before < 0 or after < 0:
            start, end = max(-before, 0), shape[axis] - max(-after, 0)
            shape[axis] = end - start
            t = b.slice(t, [start], [end], [axis], stem="crop", shape=list(shape))
        blocks = [_block(b, m, t, shape, axis, extent, side) if extent > 0 else None
                  for side, extent in (("before", before), ("after", after))]
        if blocks[0] is not None or blocks[1] is not None:
            shape[axis] += max(before, 0) + max(after, 0)
            parts = [p for p in (blocks[0], t, blocks[1]) if p is not None]
            t = b.op("Concat", parts, {"axis": axis}, stem="padded", dtype=m.x.dtype, shape=list(shape))
    if t is m.x:                            # every pad 0
        b.op("Identity", [t], output=m.y)
    else:
        t.inputs[0].outputs[0] = m.y


def _block(b: GraphBuilder, m: Match, t: gs.Tensor, shape: list[int], axis: int, extent: int, side: str) -> gs.Tensor:
    """The samples that go before or after `t` along `axis` (shape: t's shape)."""
    block = shape[:axis] + [extent] + shape[axis + 1:]
    n = shape[axis]
    if m.mode == "constant":
        return b.const(np.full(block, m.value, m.value.dtype), "pad_block")
    if m.mode == "edge":
        border = b.slice(t, [0 if side == "before" else n - 1], [1 if side == "before" else n], [axis], stem="border",
                         shape=shape[:axis] + [1] + shape[axis + 1:])
        return border if extent == 1 else b.op("Concat", [border] * extent, {"axis": axis}, stem="edge_block",
                                                  dtype=m.x.dtype, shape=block)
    start, end = (extent, 0) if side == "before" else (n - 2, n - 2 - extent)    # reflect: the border itself excluded
    inputs = [t, b.ints([start], "starts"), b.ints([end if end >= 0 else -n - 1], "ends"), b.ints([axis], "axes"),
              b.ints([-1], "steps")]
    return b.op("Slice", inputs, stem="reflected", dtype=m.x.dtype, shape=block)


PASS = register(Pass(
    name="pad-to-concat",
    summary="Pad (constant, edge, reflect) of a fixed-shape tensor -> Slices + Concats, exact",
    anchor_ops=("Pad",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("Pad"),),
    min_opset=11,                           # pads as an input; Slice with inputs (opset 10) and Concat
    matches=Match,
    doc=__doc__,
))
