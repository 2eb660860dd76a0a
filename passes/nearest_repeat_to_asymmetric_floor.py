"""nearest-repeat-to-asymmetric-floor: a nearest Resize that repeats each sample -> asymmetric + floor.

Identity: with integer scales, a nearest Resize whose coordinate_transformation_mode and nearest_mode
pick input floor(j/s) for output j (passes._resize.repeat_factors) computes exactly what asymmetric +
floor computes, which is the one nearest form some runtimes take (CoreML EP: asymmetric + floor; QNN:
nearest_mode floor). Scales stay as they are.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes._resize import repeat_factors
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if len(node.inputs) < 3 or node.inputs[0].shape is None:
        return None
    attrs = node.attrs
    canonical = (attrs.get("coordinate_transformation_mode") in ("asymmetric", b"asymmetric")
                 and attrs.get("nearest_mode") in ("floor", b"floor"))
    if canonical or attrs.get("mode", "nearest") not in ("nearest", b"nearest"):
        return None
    factors = repeat_factors(node, len(node.inputs[0].shape))
    return Skip(factors) if isinstance(factors, str) else Match((node,))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    m.nodes[0].attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")


PASS = register(Pass(
    name="nearest-repeat-to-asymmetric-floor",
    summary="nearest Resize that repeats samples -> the same Resize in asymmetric + floor form, exact",
    anchor_ops=("Resize",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.nearest_not_floor,),
    matches=Match,
    doc=__doc__,
    min_opset=11,
))
