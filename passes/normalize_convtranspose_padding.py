"""normalize-convtranspose-padding: auto_pad and output_shape -> explicit pads and output_padding (exact).

Identity: a ConvTranspose's output depends on its attributes only through the per-axis pads and
output_padding that they resolve to (passes._convtranspose.resolve, per the ONNX spec as onnxruntime
runs it), so replacing auto_pad SAME_UPPER/SAME_LOWER/VALID and output_shape by those explicit values
computes the same thing. Runtimes disagree on the implicit forms (OpenVINO 2026.4 CPU gives SAME_*
the unpadded size and puts all of output_shape's padding at the end); the explicit form they agree on.
An output_shape past the full length becomes output_padding (it stays below the stride).
Preconditions: W's shape is known (kernel sizes); output_shape needs static spatial input sizes (its
pads change with the size).
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import ConvTransposeSpec, SymbolicOutputShape, resolve
from onnxport.passes._graph import GraphBuilder, known_dims, weight_shape
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", b"NOTSET") and not node.attrs.get("output_shape"):
        return None
    shape = weight_shape(node.inputs[1])
    if shape is None:
        return Skip("the weight's shape is unknown: the kernel sizes decide the pads")
    try:
        spec = resolve(node.name, node.attrs, shape, known_dims(node.inputs[0], len(shape))[2:])
    except SymbolicOutputShape as e:
        return Skip(str(e))
    return Match((node,), spec)


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    spec: ConvTransposeSpec


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    explicit = [a.explicit() for a in m.spec.axes]
    for key in ("auto_pad", "output_shape"):
        node.attrs.pop(key, None)
    node.attrs["pads"] = [e[0] for e in explicit] + [e[1] for e in explicit]
    if any(e[2] for e in explicit):
        node.attrs["output_padding"] = [e[2] for e in explicit]
    else:
        node.attrs.pop("output_padding", None)


PASS = register(Pass(
    name="normalize-convtranspose-padding",
    summary="ConvTranspose auto_pad SAME_*/VALID and output_shape -> explicit pads and output_padding, exact",
    anchor_ops=("ConvTranspose",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.implicit_padding,),
    matches=Match,
    doc=__doc__,
))
