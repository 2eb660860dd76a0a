"""fold-shape-computations: shape arithmetic whose sizes became static -> constants.

Identity: once every input size is fixed, Shape of a tensor with a static shape is a constant, and so
is anything computed from constants and such shapes (Gather, Concat, Mul, Slice, ...): evaluating it
once (onnx's reference evaluator, passes._shape_eval) and storing the result changes nothing. What
accelerators that want static graphs get: Reshape targets, Resize sizes and Slice bounds as constants.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import NoSettings, Pass, register
from onnxport.passes._shape_eval import evaluate
from onnxport.passes import _conditions as conditions

SHAPE_OPS = {"Shape", "Gather", "Concat", "Slice", "Mul", "Add", "Sub", "Div", "Cast", "Unsqueeze", "Squeeze",
             "Max", "Min", "Floor", "Ceil", "Identity", "Range", "Mod", "Equal", "Where", "Size",
             "ReduceProd", "Neg", "Abs", "ConstantOfShape"}
# ops whose inputs after the first are parameters (bounds, pads, targets), not shape arithmetic to go on with
PARAMETER_OPS = {"Slice", "Pad", "Reshape", "Expand", "Tile", "Resize", "Squeeze", "Unsqueeze", "Gather"}
LARGEST = 4096          # elements: shape computations are small; big constants would bloat the model


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    tensor: gs.Tensor
    value: np.ndarray


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    """A shape computation's last node (its result feeds something else, or is a parameter of a Slice,
    Pad, Reshape, ...), when it evaluates."""
    out = node.outputs[0] if len(node.outputs) == 1 else None
    if out is None or out in graph.outputs or all(_continues(c, out) for c in out.outputs):
        return None
    value = evaluate(out, _static_shape, int(graph.opset))
    if value is None or value.size > LARGEST:
        return None
    return Match((node,), out, value)


def _static_shape(t: gs.Tensor) -> tuple | None:
    return tuple(t.shape) if t.shape is not None and all(isinstance(d, int) and d >= 0 for d in t.shape) else None


def _continues(consumer: gs.Node, t: gs.Tensor) -> bool:
    """The consumer goes on computing a shape from t (rather than taking it as a parameter)."""
    return consumer.op in SHAPE_OPS and not (consumer.op in PARAMETER_OPS and consumer.inputs[0] is not t)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    node.outputs.clear()
    constant = b.const(m.value.astype(m.tensor.dtype or m.value.dtype), "folded")
    for consumer in list(m.tensor.outputs):
        for i, t in enumerate(consumer.inputs):
            if t is m.tensor:
                consumer.inputs[i] = constant


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
