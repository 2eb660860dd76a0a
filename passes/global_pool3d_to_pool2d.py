"""global-pool3d-to-pool2d: GlobalAveragePool/GlobalMaxPool/GlobalLpPool over 3 spatial dims -> the same
global pool over 2, exact.

Identity: a global pool reduces every spatial sample of a channel; viewing (D, H, W) as (D, H*W) is a
Reshape (no data moved, row-major) that keeps the same samples, so the mean (same sum, same count), the
max and the p-norm are the same. (N, C, D, H, W) -> Reshape (N, C, D, H*W) -> 2-D global pool (N, C, 1, 1)
-> Reshape (N, C, 1, 1, 1).
Preconditions: the input's rank 5.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, register
from onnxport.passes import conditions

GLOBAL_POOLS = ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if node.op not in GLOBAL_POOLS or node.inputs[0].shape is None or len(node.inputs[0].shape) != 5:
        return None
    return Match((node,), node.inputs[0], node.outputs[0])


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    attrs = dict(node.attrs)
    node.inputs.clear()
    node.outputs.clear()
    rows = b.reshape(m.x, m.x, [Dim(1, (0,)), Dim(1, (1,)), Dim(1, (2,)), Dim(1, (3, 4))], stem="depth_rows")
    pooled = b.op(node.op, [rows], attrs, stem="pool_2d", dtype=m.x.dtype)
    y = b.reshape(pooled, m.x, [Dim(1, (0,)), Dim(1, (1,)), Dim(1), Dim(1), Dim(1)], stem="volume")
    y.inputs[0].outputs[0] = m.y


PASS = register(Pass(
    name="global-pool3d-to-pool2d",
    summary="3-D GlobalAveragePool/GlobalMaxPool/GlobalLpPool -> the 2-D global pool over (D, H*W), exact",
    anchor_ops=GLOBAL_POOLS,
    match=match,
    rewrite=rewrite,
    ensures=(conditions.global_pool_of_rank(3),),
    matches=Match,
    doc=__doc__,
))
