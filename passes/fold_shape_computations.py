"""fold-shape-computations: shape arithmetic whose sizes became static -> constants.

Identity: once every input size is fixed, Shape of a tensor with a static shape is a constant, and so
is anything computed from constants and such shapes (Gather, Concat, Mul, Slice, ...): evaluating it
once (onnx's reference evaluator, passes._shape_eval) and storing the result changes nothing. What
accelerators that want static graphs get: Reshape targets, Resize sizes and Slice bounds as constants.
An Expand of a constant is folded the same way, and an Expand to the shape its input already has is the
identity (broadcasting a tensor to its own shape copies it): an Identity, which onnxruntime's basic
optimizations drop before a mobile execution provider partitions the graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value
from onnxport.passes._registry import NoSettings, Pass, register
from onnxport.passes._shape_eval import evaluate
from onnxport.passes import conditions

SHAPE_OPS = {"Shape", "Gather", "Concat", "Slice", "Mul", "Add", "Sub", "Div", "Cast", "Unsqueeze", "Squeeze",
             "Max", "Min", "Floor", "Ceil", "Identity", "Range", "Mod", "Equal", "Where", "Size",
             "ReduceProd", "Neg", "Abs", "ConstantOfShape", "Expand"}
# ops whose inputs after the first are parameters (bounds, pads, targets), not shape arithmetic to go on with
PARAMETER_OPS = {"Slice", "Pad", "Reshape", "Expand", "Tile", "Resize", "Squeeze", "Unsqueeze", "Gather"}
KEPT = None             # Match.value of an identity Expand: its input is kept, the node dropped
LARGEST = 4096          # elements: shape computations are small; big constants would bloat the model


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    tensor: gs.Tensor
    value: np.ndarray | None


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    """A shape computation's last node (its result feeds something else, or is a parameter of a Slice,
    Pad, Reshape, ...), when it evaluates; or an Expand to its input's own static shape."""
    out = node.outputs[0] if len(node.outputs) == 1 else None
    if out is None or out in graph.outputs:
        return None
    expanded = _expand(node, int(graph.opset)) if node.op == "Expand" else None
    if expanded is not None:
        return Match((node,), out, expanded[0])
    if all(_continues(c, out) for c in out.outputs):
        return None
    value = evaluate(out, _static_shape, int(graph.opset))
    if value is None or value.size > LARGEST:
        return None
    return Match((node,), out, value)


def _expand(node: gs.Node, opset: int) -> tuple[np.ndarray | None] | None:
    """(KEPT,) for an Expand to its input's own static shape, (value,) for a small Expand of a constant
    (a tensor of any rank, which the shape evaluator leaves alone), else None."""
    target = evaluate(node.inputs[1], _static_shape, opset)
    shape, data = _static_shape(node.inputs[0]), constant_value(node.inputs[0])
    if target is None or target.ndim != 1 or (shape is None and data is None):
        return None
    try:
        result = np.broadcast_shapes(shape or np.shape(data), tuple(int(d) for d in target))
    except ValueError:          # shapes that do not broadcast: the node fails at run time; leave it so
        return None
    if result == shape:
        return (KEPT,)
    if data is not None and math.prod(result) <= LARGEST:
        return (np.broadcast_to(np.asarray(data), result).copy(),)
    return None


def _static_shape(t: gs.Tensor) -> tuple | None:
    return tuple(t.shape) if t.shape is not None and all(isinstance(d, int) and d >= 0 for d in t.shape) else None


def _continues(consumer: gs.Node, t: gs.Tensor) -> bool:
    """The consumer goes on computing a shape from t (rather than taking it as a parameter)."""
    return consumer.op in SHAPE_OPS and not (consumer.op in PARAMETER_OPS and consumer.inputs[0] is not t)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    """The folded tensor becomes a constant, an identity Expand an Identity: both keep the tensor's name,
    which later analyses know it by."""
    node = m.nodes[0]
    if m.value is KEPT:
        node.op = "Identity"
        while len(node.inputs) > 1:
            node.inputs.pop()
        return
    node.outputs.clear()
    m.tensor.to_constant(m.value.astype(m.tensor.dtype or m.value.dtype))


PASS = register(Pass(
    name="fold-shape-computations",
    summary="Shape arithmetic on static sizes -> constants (for fix-sizes)",
    anchor_ops=tuple(SHAPE_OPS),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("Shape"),),
    matches=Match,
    doc=__doc__,
))
