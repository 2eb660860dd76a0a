"""Evaluate a small integer subgraph (slice bounds, pads, reshape targets) for given tensor shapes.

Exporters compute bounds from Shape ops (tf2onnx crops a ConvTranspose to its 'same' size with
Shape/Sub/Div/Slice). To fold such a crop into attributes, the bounds are evaluated at several probe
sizes: the subgraph behind a tensor is cut at constants and at Shape ops of known tensors, whose
values are substituted, and run with onnx's reference evaluator (no onnxruntime in passes).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx.reference import ReferenceEvaluator
from onnx_graphsurgeon.exporters.onnx_exporter import OnnxExporter

from onnxport.passes._graph import constant_value

MAX_NODES = 64          # bound computations are a handful of ops; anything bigger is not a bound
MAX_RANK = 2            # shape vectors are rank 0 or 1: a tensor of higher rank is data, so stop at once


def evaluate(tensor: gs.Tensor, shapes: dict[str, tuple[int, ...]] | Callable, opset: int) -> np.ndarray | None:
    """The value of `tensor` when the tensors named in `shapes` have those shapes (or, `shapes` a function,
    the tensors it gives a shape for); None if it depends on anything else (a data tensor, a graph input,
    too many ops)."""
    value = constant_value(tensor)
    if value is not None:
        return np.asarray(value)
    nodes, leaves = [], {}
    if not _collect(tensor, shapes, nodes, leaves):
        return None
    inits = [onnx.numpy_helper.from_array(np.asarray(v), name) for name, v in leaves.items()]
    exported = [OnnxExporter.export_node(n) for n in nodes]      # tensor attributes (ConstantOfShape) too
    graph = onnx.helper.make_graph(exported, "bounds", [], [onnx.helper.make_tensor_value_info(tensor.name, 0, None)],
                                   inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    try:
        return np.asarray(ReferenceEvaluator(model).run(None, {})[0])
    except Exception:  # noqa: BLE001 - an op the reference cannot run here: the bound stays unknown
        return None


def _collect(root: gs.Tensor, shapes, nodes: list, leaves: dict) -> bool:
    """The nodes behind `root` in topological order, and the leaf values they read; False if they depend
    on anything but constants and Shapes of known tensors, or number more than MAX_NODES. Iterative:
    an exporter's chain can be thousands of nodes deep."""
    pending, placed, seen = [(root, False)], set(), set()
    while pending:
        t, inputs_done = pending.pop()
        if inputs_done:                     # every input of t's producer is collected: place it
            node = t.inputs[0]
            if id(node) not in placed:
                placed.add(id(node))
                nodes.append(node)
            continue
        if t.name in seen or t.name in leaves:
            continue
        seen.add(t.name)
        value = constant_value(t)
        if value is not None:
            leaves[t.name] = value
            continue
        if len(t.inputs) != 1 or len(seen) > MAX_NODES or (t.shape is not None and len(t.shape) > MAX_RANK):
            return False
        node = t.inputs[0]
        known = _known_shape(shapes, node.inputs[0]) if node.op == "Shape" else None
        if known is not None:
            full = np.asarray(known, np.int64)
            start, end = node.attrs.get("start", 0), node.attrs.get("end", len(full))
            leaves[t.name] = full[start:end]
            continue
        pending.append((t, True))
        pending.extend((i, False) for i in node.inputs if i.name)
    return True


def _known_shape(shapes, t: gs.Tensor):
    return shapes(t) if callable(shapes) else shapes.get(t.name)
