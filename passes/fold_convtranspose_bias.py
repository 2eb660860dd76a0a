"""fold-convtranspose-bias: ConvTranspose then Add of a per-channel constant -> the ConvTranspose's bias (exact).

Identity: Add(ConvTranspose(x, W, B), c) = ConvTranspose(x, W, B + c) when c broadcasts to
(1, C_out, 1, ..., 1): the bias is added to every output position of its channel, which is what a
per-channel constant does. Exporters (tf2onnx for Keras Conv*Transpose) emit the bias as such an Add.
Exact over the reals; in float32 B + c is rounded once.
Preconditions: the ConvTranspose's output feeds only the Add; the other Add input is constant, per
channel; the ConvTranspose's own bias, if any, is constant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._conv_patterns import single_consumer
from onnxport.passes._graph import GraphBuilder, absorb, constant_value
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    convtranspose: gs.Node
    bias: np.ndarray


def per_channel(c: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """c as a (channels,) vector if it broadcasts to (1, channels, 1, ...) within a rank-`rank` output."""
    if c.ndim > rank:
        return None
    shape = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(c.reshape(-1), (channels,)) if shape[1] == 1 else c.reshape(channels)


def match(graph: gs.Graph, add: gs.Node, settings: NoSettings):
    for mine, other in ((0, 1), (1, 0)):
        ct = add.inputs[mine].inputs[0] if add.inputs[mine].inputs else None
        if ct is not None and ct.op == "ConvTranspose":
            break
    else:
        return None
    c = constant_value(add.inputs[other])
    weight = constant_value(ct.inputs[1])
    shape = weight.shape if weight is not None else ct.inputs[1].shape
    if c is None or shape is None:
        return Skip(f"the Add after ConvTranspose '{ct.name}' adds a computed tensor")
    if not single_consumer(add.inputs[mine], graph):
        return Skip(f"ConvTranspose '{ct.name}' output is used elsewhere")
    channels = int(shape[1]) * int(ct.attrs.get("group", 1))
    vector = per_channel(np.asarray(c), channels, len(shape))
    if vector is None:
        return Skip(f"the Add after ConvTranspose '{ct.name}' is not per channel (shape {list(c.shape)})")
    old = ct.inputs[2] if len(ct.inputs) > 2 and ct.inputs[2].name else None
    old_value = constant_value(old) if old is not None else np.zeros(channels)
    if old_value is None:
        return Skip(f"ConvTranspose '{ct.name}' has a computed bias")
    dtype = weight.dtype if weight is not None else ct.inputs[1].dtype
    return Match((ct, add), ct, (old_value.astype(np.float64) + vector).astype(dtype))


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    ct, add = m.nodes
    absorb(ct, add, list(ct.inputs[:2]) + [b.const(m.bias, "bias")])


PASS = register(Pass(
    name="fold-convtranspose-bias",
    summary="ConvTranspose + Add of a per-channel constant -> ConvTranspose bias, exact",
    anchor_ops=("Add",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("Add"),),
    matches=Match,
    doc=__doc__,
))
