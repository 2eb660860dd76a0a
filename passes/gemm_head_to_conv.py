"""gemm-head-to-conv: a Flatten -> Gemm (-> activation -> Gemm ...) head -> Convs, so the classifier slides.

Identity: Gemm(Flatten(x)) with x of shape (N, C, h, w) at the exported size is a Conv with kernel
(h, w) over x whose weight is the Gemm weight reshaped to (out, C, h, w) (alpha into the weight, beta
into the bias); every later Gemm on those features is a 1x1 Conv, elementwise activations act per
position, and a Softmax over the features is a Softmax over channels. At the exported size the output
is the same numbers, shaped (N, out, 1, 1); on a larger input it is a map of class scores, one per
window, windows spaced by the net's total stride. MatMul + Add (Keras Dense) reads as a Gemm.
Preconditions (each a Skip): the head is a single-consumer chain from a Flatten(axis 1) or a
Reshape to (N, features) of a tensor with static C and spatial sizes; Gemm transA = 0 with a
constant weight and a per-feature bias; Softmax needs opset >= 13 (per-axis semantics).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value, known_dims, sole_user
from onnxport.passes._ops import UNARY
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


@dataclass
class Layer:
    """One step of the head: a linear layer (weight (out, in), bias) or a pointwise/softmax op kept."""

    node: gs.Node
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    extra: list = field(default_factory=list)      # further nodes folded into this layer (MatMul's Add)


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    spatial: tuple[int, ...]
    layers: tuple[Layer, ...]


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    x = node.inputs[0]
    dims = known_dims(x, len(x.shape)) if x.shape is not None else []
    if len(dims) < 3 or not _flattens(node, dims):
        return None
    if None in dims[1:]:
        return Skip("the flattened tensor's channels or sizes are not static")
    layers, t, seen = [], node.outputs[0], [node]
    while (nxt := sole_user(t, graph)) is not None:
        layer = _layer(nxt, graph, int(graph.opset))
        if isinstance(layer, str):
            return Skip(layer)
        if layer is None:
            break
        layers.append(layer)
        seen += [nxt] + layer.extra
        t = (layer.extra[-1] if layer.extra else nxt).outputs[0]
    if not layers or layers[0].weight is None:
        return Skip("no Gemm/MatMul follows the flatten")
    if layers[0].weight.shape[1] != int(np.prod(dims[1:])):
        return Skip("the first Gemm does not read the flattened features")
    return Match(tuple(seen), x, tuple(dims[2:]), tuple(layers))


def _flattens(node: gs.Node, dims) -> bool:
    """Flatten(axis 1), or a Reshape to (N, features) with N kept (0, -1 or the batch) and features -1 or C*h*w."""
    if node.op == "Flatten":
        return node.attrs.get("axis", 1) == 1
    target = constant_value(node.inputs[1])
    if target is None or len(target) != 2:
        return False
    batch, features = int(target[0]), int(target[1])
    keeps_batch = batch == 0 or (batch == -1 and features != -1) or (dims[0] is not None and batch == dims[0])
    return keeps_batch and (features == -1 or (None not in dims[1:] and features == int(np.prod(dims[1:]))))


def _layer(node: gs.Node, graph: gs.Graph, opset: int) -> Layer | str | None:
    if node.op == "Gemm":
        w = constant_value(node.inputs[1])
        if w is None or node.attrs.get("transA", 0):
            return "a Gemm with a computed weight or transA"
        w = (w if node.attrs.get("transB", 0) else w.T) * node.attrs.get("alpha", 1.0)
        bias = constant_value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2].name else np.zeros(1)
        if bias is None:
            return "a Gemm with a computed bias"
        vector = _per_feature(np.asarray(bias), w.shape[0])
        if vector is None:
            return "a Gemm bias that is not per feature"
        return Layer(node, w.astype(np.float32), (vector * node.attrs.get("beta", 1.0)).astype(np.float32))
    if node.op == "MatMul":
        w = constant_value(node.inputs[1])
        if w is None or w.ndim != 2:
            return "a MatMul with a computed weight"
        layer = Layer(node, w.T.astype(np.float32), np.zeros(w.shape[1], np.float32))
        add = sole_user(node.outputs[0], graph)
        if add is not None and add.op == "Add":
            c = constant_value(add.inputs[1] if add.inputs[0] is node.outputs[0] else add.inputs[0])
            if c is not None and c.size == w.shape[1]:
                layer.bias, layer.extra = c.reshape(-1).astype(np.float32), [add]
        return layer
    if node.op in UNARY:       # acts on each feature alone, so on each position of the map alike
        return Layer(node)
    if node.op in ("Softmax", "LogSoftmax") and node.attrs.get("axis", -1) in (1, -1):
        return Layer(node) if opset >= 13 else "a Softmax before opset 13 (it flattens its input)"
    return None


def _per_feature(bias: np.ndarray, features: int) -> np.ndarray | None:
    """A Gemm bias of shape (), (1,), (out,) or (1, out) as an (out,) vector."""
    if bias.size == 1:
        return np.full(features, bias.reshape(()).item())
    if bias.size == features and bias.shape in ((features,), (1, features)):
        return bias.reshape(features)
    return None


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    flatten, t = m.nodes[0], m.x
    flatten.outputs.clear()
    flatten.inputs.clear()
    channels, kernel = m.x.shape[1], list(m.spatial)
    for layer in m.layers:
        end = (layer.extra[-1] if layer.extra else layer.node).outputs[0]
        end.shape = [m.x.shape[0], channels] + [None] * len(kernel)      # no longer (N, features)
        if layer.weight is None:
            if layer.node.op in ("Softmax", "LogSoftmax"):
                layer.node.attrs["axis"] = 1
            layer.node.inputs[0] = t
            t = end
            continue
        weight = layer.weight.reshape([layer.weight.shape[0], channels] + kernel)
        for node in [layer.node] + layer.extra:
            node.inputs.clear()
            node.outputs.clear()
        channels, kernel = weight.shape[0], [1] * len(kernel)
        end.shape[1] = channels
        t = b.op("Conv", [t, b.const(weight, "weight"), b.const(layer.bias, "bias")],
                 {"kernel_shape": list(weight.shape[2:])}, stem="head_conv", dtype=np.float32, output=end)


PASS = register(Pass(
    name="gemm-head-to-conv",
    summary="Flatten -> Gemm/MatMul (+ activations) -> Gemm ... head -> Conv (kernel = feature map) + 1x1 Convs",
    anchor_ops=("Flatten", "Reshape"),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.dense_head,),
    matches=Match,
    changes_output_ranks=True,
    doc=__doc__,
))
