"""resize-symmetric-to-half-pixel: a half_pixel_symmetric Resize with integer scales -> half_pixel.

Identity: half_pixel_symmetric maps output x to offset + (x + 0.5)/s - 0.5 with
offset = (L/2)*(1 - floor(s*L)/(s*L)); when s*L is an integer the adjustment floor(s*L)/(s*L) is 1,
the offset 0, and the map is half_pixel's. An integer scale makes s*L an integer for every input
length L, so the rewrite holds at any size. Runtimes that refuse half_pixel_symmetric (OpenVINO
2026.4 CPU) then get half_pixel.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes._resize import resize_spec
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    if node.attrs.get("coordinate_transformation_mode") not in ("half_pixel_symmetric", b"half_pixel_symmetric") \
            or node.inputs[0].shape is None:
        return None
    spec = resize_spec(node, len(node.inputs[0].shape))
    if isinstance(spec, str):
        return Skip(spec)
    if spec.scales is None or any(s != int(s) for s in spec.scales):
        return Skip("half_pixel_symmetric equals half_pixel only where scale * length is an integer: "
                    "integer scales needed")
    return Match((node,))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    m.nodes[0].attrs["coordinate_transformation_mode"] = "half_pixel"


PASS = register(Pass(
    name="resize-symmetric-to-half-pixel",
    summary="Resize half_pixel_symmetric with integer scales -> half_pixel, exact",
    anchor_ops=("Resize",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.symmetric_coordinates,),
    matches=Match,
    doc=__doc__,
    min_opset=19,
))
