"""resize-aspect-ratio-to-scales: a Resize with keep_aspect_ratio_policy -> the same Resize with scales.

Identity: keep_aspect_ratio_policy (opset 18) picks one scale for the listed axes (the min or max of
size/length) and rounds the sizes half up; with static input sizes, whenever that rounding equals
floor(scale * length) on every axis, a Resize with that scale computes the same coordinates and the
same sizes (passes._resize.resize_spec resolves it). Runtimes that give this attribute wrong values
or shapes (OpenVINO 2026.4 CPU) then see a plain scales Resize.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes._resize import resize_spec
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    scales: np.ndarray


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy in ("stretch", b"stretch") or node.inputs[0].shape is None:
        return None
    spec = resize_spec(node, len(node.inputs[0].shape))
    if isinstance(spec, str):
        return Skip(spec)
    return Match((node,), np.asarray(spec.scales, np.float32))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    for key in ("keep_aspect_ratio_policy", "axes"):
        node.attrs.pop(key, None)
    node.inputs[2] = b.const(m.scales, "scales")
    del node.inputs[3]


PASS = register(Pass(
    name="resize-aspect-ratio-to-scales",
    summary="Resize with keep_aspect_ratio_policy (static sizes) -> the same Resize with scales, exact",
    anchor_ops=("Resize",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.aspect_ratio_policy,),
    matches=Match,
    doc=__doc__,
    min_opset=18,
))
