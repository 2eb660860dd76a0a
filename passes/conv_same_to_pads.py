"""conv-same-to-pads: Conv/MaxPool/AveragePool/LpPool with auto_pad SAME_*/VALID -> explicit pads (exact).

Identity: auto_pad SAME_UPPER/SAME_LOWER pads an axis of length L by total = max((ceil(L/s) - 1)*s + k - L, 0),
SAME_UPPER putting the odd unit at the end, SAME_LOWER at the start (as onnxruntime does; checked on 792
configurations); VALID pads nothing. Written as pads it computes the same. With stride 1 the total is
k - 1 at every length, so the pads hold for symbolic sizes too; with a larger stride they depend on
L mod s and need a static length. tf2onnx writes every Keras `padding="same"` this way, which no-conv3d
and runtimes with explicit pads only could not take.
Preconditions: dilations 1 and kernels at least the stride on every axis (onnxruntime pads otherwise
by rules of its own), the kernel known, static lengths where a stride exceeds 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, known_dims, text_attr, weight_shape
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions

OPS = ("Conv", "MaxPool", "AveragePool", "LpPool")


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    pads: tuple[int, ...]


def same_pads(lengths: list, kernel: list[int], strides: list[int], upper: bool) -> list[int] | None:
    """begin pads then end pads; None where a length that decides them is unknown."""
    begins, ends = [], []
    for length, k, s in zip(lengths, kernel, strides):
        if s == 1:
            total = k - 1
        elif length is None:
            return None
        else:
            total = max((-(-length // s) - 1) * s + k - length, 0)
        begin = total // 2 if upper else total - total // 2
        begins.append(begin)
        ends.append(total - begin)
    return begins + ends


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        return None
    kernel = node.attrs.get("kernel_shape")
    if kernel is None and node.op == "Conv":
        shape = weight_shape(node.inputs[1])
        kernel = shape[2:] if shape is not None else None
    if kernel is None:
        return Skip("the kernel's shape is unknown")
    kernel = [int(k) for k in kernel]
    n = len(kernel)
    strides = [int(s) for s in node.attrs.get("strides", [1] * n)]
    if any(d != 1 for d in node.attrs.get("dilations", [1] * n)) or any(k < s for k, s in zip(kernel, strides)):
        return Skip("dilations or kernels shorter than the stride: onnxruntime pads those by rules of its own")
    if auto_pad == "VALID":
        return Match((node,), tuple([0] * (2 * n)))
    lengths = known_dims(node.inputs[0], n + 2)[2:]
    pads = same_pads(lengths, kernel, strides, auto_pad == "SAME_UPPER")
    if pads is None:
        return Skip("a stride above 1 on a symbolic length: the pads change with the length (fix the sizes)")
    return Match((node,), tuple(pads))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    node.attrs.pop("auto_pad", None)
    node.attrs["pads"] = list(m.pads)


PASS = register(Pass(
    name="conv-same-to-pads",
    summary="Conv/pool auto_pad SAME_*/VALID -> explicit pads (stride 1, or static sizes), exact",
    anchor_ops=OPS,
    match=match,
    rewrite=rewrite,
    ensures=(conditions.implicit_window_padding,),
    matches=Match,
    doc=__doc__,
))
