"""flatten-to-reshape: Flatten(axis) -> Reshape to (product of the dims before axis, product of the rest), exact.

Identity: Flatten is defined as that Reshape (row-major order, no data moved). The target shape is a
constant where the dims are fixed, else computed from Shape (a Slice and Mul per symbolic dim; the one
with most symbolic factors becomes -1, so Flatten(axis=1) of (N, C, H, W) is Reshape(x, [N, -1]) read
as [Shape(x)[0], -1]).
Preconditions: the input's rank known.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    rank: int
    axis: int


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if node.op != "Flatten":
        return None
    x = node.inputs[0]
    if x.shape is None:
        return Skip(f"Flatten '{node.name}' flattens a tensor of unknown rank")
    rank = len(x.shape)
    axis = int(node.attrs.get("axis", 1))
    if not -rank <= axis <= rank:
        return None                         # malformed: the model checks name it
    return Match((node,), x, node.outputs[0], rank, axis % rank if axis < rank else rank)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    node.inputs.clear()
    node.outputs.clear()
    dims = [Dim(1, tuple(range(m.axis))), Dim(1, tuple(range(m.axis, m.rank)))]
    y = b.reshape(m.x, m.x, dims, stem="flat")
    y.inputs[0].outputs[0] = m.y


PASS = register(Pass(
    name="flatten-to-reshape",
    summary="Flatten -> Reshape to (dims before axis, the rest), exact",
    anchor_ops=("Flatten",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("Flatten"),),
    matches=Match,
    doc=__doc__,
))
