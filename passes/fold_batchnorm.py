"""fold-batchnorm: an inference BatchNormalization -> folded into the Conv/ConvTranspose before it, else a
per-channel Mul + Add (exact to float rounding).

Identity: BatchNormalization(y) = s * (y - mean) + beta per channel c, with s = gamma / sqrt(var + eps).
A Conv's output channel c is W[c] * x + B[c] (a ConvTranspose's: sum over its input channels of
W[:, c'] * x + B[c], c = g * (C_out/group) + c'), so s * y + (beta - s * mean) is the same Conv with
W'[channel c] = s[c] * W[channel c] and B' = s * (B - mean) + beta. Every output position of a channel
gets the same scale and shift, so it holds at any input size and across whatever the Conv is later
lowered into (a sub-pixel interleave moves values, it never mixes channels).
Float rounding: s and B' are computed in float64 and rounded once to the weight's dtype; W' = s * W is one
float32 product per weight, so each folded output differs from BN(Conv(x)) by at most a few units in the
last place of the terms it sums: |err| <= (n + 2) * 2^-24 * (|s| * sum |W| * |x| + |B'|) for n weights per
output, the same bound as the Conv's own summation (tests hold it to 1e-5 relative).
Preconditions: BN in inference form (one output, training_mode 0, spatial 1) with constant parameters.
It folds into the Conv where the Conv's weight and bias are constant and its output feeds only the BN;
elsewhere (a pre-activation BN, before a ReLU and a Conv: zero padding after a shift is not a shift of
the padded input) it becomes x * s + (beta - s * mean), one Mul and one Add per channel, rounded twice.
Runtimes without BatchNormalization (CoreML's ML Program), or whose converters get it wrong (onnx2tf when
the channel count equals a spatial size), take the folded form; onnxruntime fuses it the same way itself.
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
    nodes: tuple[gs.Node, ...]          # (conv, batchnorm), or (batchnorm,) alone
    weight: np.ndarray | None           # the Conv's scaled weight; None: a per-channel Mul + Add instead
    bias: np.ndarray                    # the Conv's new bias, or the Add's shift
    scale: np.ndarray | None = None     # the Mul's scale, for a BatchNormalization with no Conv before it


def match(graph: gs.Graph, bn: gs.Node, settings: NoSettings):
    if bn.op != "BatchNormalization":
        return None
    if len([t for t in bn.outputs if t.name]) != 1 or bn.attrs.get("training_mode", 0) or bn.attrs.get("spatial", 1) != 1:
        return Skip(f"BatchNormalization '{bn.name}' is not in inference form (training outputs or spatial=0)")
    params = [constant_value(t) for t in bn.inputs[1:5]]
    if any(p is None for p in params):
        return Skip(f"BatchNormalization '{bn.name}' has computed parameters")
    gamma, beta, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)
    scale = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    shift = beta - scale * mean
    folded = _into_conv(graph, bn, scale, shift)
    if folded is not None:
        return folded
    rank = len(bn.inputs[0].shape) if bn.inputs[0].shape is not None else None
    if rank is None:
        return Skip(f"BatchNormalization '{bn.name}' has an input of unknown rank")
    dtype = bn.inputs[0].dtype or np.float32
    per_channel = (1, -1) + (1,) * (rank - 2)
    return Match((bn,), None, shift.reshape(per_channel).astype(dtype), scale.reshape(per_channel).astype(dtype))


def _into_conv(graph: gs.Graph, bn: gs.Node, scale: np.ndarray, shift: np.ndarray) -> Match | None:
    """The fold into the Conv/ConvTranspose that feeds only this BN, or None where there is none."""
    conv = bn.inputs[0].inputs[0] if bn.inputs[0].inputs else None
    if conv is None or conv.op not in ("Conv", "ConvTranspose") or not single_consumer(bn.inputs[0], graph):
        return None
    weight = constant_value(conv.inputs[1])
    old_bias = constant_value(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2].name else 0.0
    if weight is None or old_bias is None:
        return None
    channels = weight.shape[0] if conv.op == "Conv" else weight.shape[1] * int(conv.attrs.get("group", 1))
    if scale.size != channels:
        return None
    bias = scale * np.asarray(old_bias, np.float64) + shift
    return Match((conv, bn), _scaled(weight, scale, conv), bias.astype(weight.dtype))


def _scaled(weight: np.ndarray, scale: np.ndarray, conv: gs.Node) -> np.ndarray:
    """W with output channel c multiplied by scale[c], in the layout of its op."""
    w = weight.astype(np.float64)
    if conv.op == "Conv":
        return (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(weight.dtype)
    group = int(conv.attrs.get("group", 1))          # (C_in, C_out/group, k...): group g's input rows
    per_group = w.shape[1]
    rows = w.reshape((group, w.shape[0] // group) + w.shape[1:])
    rows = rows * scale.reshape((group, 1, per_group) + (1,) * (w.ndim - 2))
    return rows.reshape(w.shape).astype(weight.dtype)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    bn = m.nodes[-1]
    if m.weight is not None:
        conv = m.nodes[0]
        absorb(conv, bn, [conv.inputs[0], b.const(m.weight, "weight"), b.const(m.bias, "bias")])
        return
    x, y = bn.inputs[0], bn.outputs[0]               # no Conv before it: x * scale + shift, per channel
    bn.inputs.clear()
    bn.outputs.clear()
    scaled = b.op("Mul", [x, b.const(m.scale, "scale")], dtype=x.dtype, shape=x.shape)
    b.op("Add", [scaled, b.const(m.bias, "shift")], output=y)


PASS = register(Pass(
    name="fold-batchnorm",
    summary="inference BatchNormalization -> folded into the Conv before it, else per-channel Mul + Add, exact",
    anchor_ops=("BatchNormalization",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("BatchNormalization"),),
    matches=Match,
    doc=__doc__,
))
