"""reshape-allowzero-off: Reshape with allowzero=1 and a constant target without zeros -> allowzero=0.

Identity: allowzero only decides what a 0 in the target means (copy the input's dim, or a dim of 0);
a target with no 0 is read the same either way (ONNX Reshape-14). The dynamo exporter writes
allowzero=1 on every Reshape; onnx2torch 1.5 refuses the attribute outright ("allowzero=1 is not
implemented"), so dynamo exports of MONAI nets do not load there until it is dropped.
Preconditions: the target is a constant with no 0 entry (a computed target could hold a 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value
from onnxport.passes._registry import NoSettings, Pass, Skip, register


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]


def allowzero_set(node: gs.Node) -> bool:
    return node.op == "Reshape" and bool(node.attrs.get("allowzero", 0))


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if not allowzero_set(node):
        return None
    target = constant_value(node.inputs[1])
    if target is None:
        return Skip(f"Reshape '{node.name}' has a computed target (it may hold a 0)")
    if (np.asarray(target) == 0).any():
        return Skip(f"Reshape '{node.name}' target {list(np.asarray(target))} has a 0, which allowzero decides")
    return Match((node,))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    del m.nodes[0].attrs["allowzero"]


PASS = register(Pass(
    name="reshape-allowzero-off",
    summary="Reshape allowzero=1 with a constant target without 0 -> allowzero=0, exact",
    anchor_ops=("Reshape",),
    match=match,
    rewrite=rewrite,
    ensures=(lambda node: "a Reshape with allowzero=1" if allowzero_set(node) else None,),
    matches=Match,
    doc=__doc__,
))
