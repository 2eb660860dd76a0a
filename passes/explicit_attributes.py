"""explicit-attributes: attributes left at their ONNX defaults -> written out, for the weakest reader.

Identity: an attribute given its default value means what its absence means (the ONNX spec), so writing
it changes nothing for a conforming runtime. Some runtimes' converters read an absent attribute
wrongly: MNN's ONNX converter takes a missing Resize `mode` as bilinear and a missing
coordinate_transformation_mode as another one (issue 13: every no-resize5d output was off by 0.09-3.6
there). So Resize gets mode and coordinate_transformation_mode (nearest_mode for nearest, cubic_coeff_a
and exclude_outside for cubic), and Conv, ConvTranspose, MaxPool and AveragePool get strides, pads (where
auto_pad does not decide them) and dilations (where the opset has them).
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, text_attr, weight_shape
from onnxport.passes._registry import NoSettings, Pass, register
from onnxport.passes._resize import INTERPOLATION
from onnxport.passes import conditions

WINDOWED = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    attrs: dict


def _spatial(node: gs.Node) -> int | None:
    if "kernel_shape" in node.attrs:
        return len(node.attrs["kernel_shape"])
    shape = weight_shape(node.inputs[1]) if node.op in ("Conv", "ConvTranspose") and len(node.inputs) > 1 else None
    return len(shape) - 2 if shape is not None else None


def _wanted(node: gs.Node, opset: int) -> dict:
    if node.op == "Resize":
        if opset < 11:
            return {"mode": text_attr(node, "mode", "nearest")}
        mode = text_attr(node, "mode", INTERPOLATION["mode"])
        wanted = {"mode": mode, "coordinate_transformation_mode":
                  text_attr(node, "coordinate_transformation_mode", INTERPOLATION["coordinate_transformation_mode"])}
        if mode == "nearest":
            wanted["nearest_mode"] = text_attr(node, "nearest_mode", INTERPOLATION["nearest_mode"])
        if mode == "cubic":
            wanted["cubic_coeff_a"] = float(node.attrs.get("cubic_coeff_a", INTERPOLATION["cubic_coeff_a"]))
            wanted["exclude_outside"] = int(node.attrs.get("exclude_outside", 0))
        return wanted
    n = _spatial(node)
    if n is None:
        return {}
    wanted = {"strides": list(node.attrs.get("strides", [1] * n))}
    if text_attr(node, "auto_pad", "NOTSET") == "NOTSET" and not node.attrs.get("output_shape"):
        wanted["pads"] = list(node.attrs.get("pads", [0] * (2 * n)))
    if node.op != "AveragePool" or opset >= 19:
        wanted["dilations"] = list(node.attrs.get("dilations", [1] * n))
    return wanted


def explicit(node: gs.Node, opset: int = 19) -> dict:
    """The node's attributes with the defaults that matter written out: two nodes mean the same when these
    are equal, whichever spelled a default out."""
    return {**{k: (v.decode() if isinstance(v, bytes) else v) for k, v in node.attrs.items()}, **{
        k: v for k, v in _wanted(node, opset).items() if k not in node.attrs}}


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    wanted = _wanted(node, int(graph.opset))
    missing = {k: v for k, v in wanted.items() if k not in node.attrs}
    return Match((node,), missing) if missing else None


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    m.nodes[0].attrs.update(m.attrs)


PASS = register(Pass(
    name="explicit-attributes",
    summary="attributes at their defaults (Resize modes, Conv/Pool pads, strides, dilations) -> written out, exact",
    anchor_ops=("Resize",) + WINDOWED,
    match=match,
    rewrite=rewrite,
    ensures=(conditions.implicit_resize_mode,),
    matches=Match,
    doc=__doc__,
))
