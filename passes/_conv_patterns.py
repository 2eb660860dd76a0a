"""What the fuse passes share: reading a plain stride-1 Conv, and replacing a pattern by one ConvTranspose."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value, sole_user, text_attr
from onnxport.passes._resize import repeat_factors


@dataclass(frozen=True)
class FoldedConvTranspose:
    """A matched pattern and the ConvTranspose that computes the same thing."""

    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    weight: np.ndarray
    bias: gs.Tensor | None
    attrs: dict
    name: str


def conv_pads(conv: gs.Node, kernel: list[int]) -> list[int]:
    """Begin and end pads of a stride-1, undilated Conv, auto_pad resolved (for stride 1 it never depends
    on the input size)."""
    n = len(kernel)
    auto_pad = text_attr(conv, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        total = [k - 1 for k in kernel]
        begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        return begin + [t - b for t, b in zip(total, begin)]
    return list(conv.attrs.get("pads", [0] * (2 * n)))


def stride_one_conv(conv: gs.Node) -> tuple[np.ndarray, list[int]] | str:
    """(weight, pads) of a Conv that is a plain stride-1, undilated correlation with a constant weight."""
    weight = constant_value(conv.inputs[1])
    if weight is None:
        return "the Conv's weight is not constant"
    n = weight.ndim - 2
    if any(v != 1 for v in conv.attrs.get("strides", [1] * n)) or any(v != 1 for v in conv.attrs.get("dilations", [1] * n)):
        return "the Conv is strided or dilated"
    return weight, conv_pads(conv, list(weight.shape[2:]))


def repeat_beside_conv(graph: gs.Graph, resize: gs.Node, conv: gs.Node, between: gs.Tensor,
                       fits=lambda weight, pads: True):
    """What both repeat + Conv folds read: (Conv weight, Conv pads, repeat factors of the spatial axes) when
    a nearest Resize repeats on the spatial axes only and a plain stride-1 Conv meets it through `between`,
    which feeds nothing else; a string saying why not; None when the Conv is not the pattern's (`fits`)."""
    found = stride_one_conv(conv)
    if isinstance(found, str):
        return found
    weight, pads = found
    if not fits(weight, pads):
        return None
    factors = repeat_factors(resize, weight.ndim)
    if isinstance(factors, str):
        return f"Resize '{resize.name}' is not a plain repeat: {factors}"
    if factors[:2] != [1, 1] or all(f == 1 for f in factors[2:]):
        return f"Resize '{resize.name}' scales {factors}: only spatial up-sampling folds"
    if not single_consumer(between, graph):
        return f"'{between.name}' between Resize '{resize.name}' and Conv '{conv.name}' is used elsewhere"
    return weight, pads, factors[2:]


def conv_bias(conv: gs.Node) -> gs.Tensor | None:
    return conv.inputs[2] if len(conv.inputs) > 2 and conv.inputs[2].name else None


def single_consumer(t: gs.Tensor, graph: gs.Graph) -> bool:
    return sole_user(t, graph) is not None


def replace(graph: gs.Graph, m: FoldedConvTranspose, b: GraphBuilder) -> None:
    """Detach the pattern's nodes and add the ConvTranspose writing its output (name and consumers stay)."""
    inputs = [m.x, b.const(m.weight, "weight")] + ([m.bias] if m.bias is not None else [])
    for node in m.nodes:
        node.inputs.clear()
        node.outputs.clear()
    graph.nodes.append(gs.Node("ConvTranspose", name=m.name, attrs=m.attrs, inputs=inputs, outputs=[m.y]))
