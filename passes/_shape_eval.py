"""Evaluate a small integer subgraph (slice bounds, pads, reshape targets) for given tensor shapes.

Exporters compute bounds from Shape ops (tf2onnx crops a ConvTranspose to its 'same' size with
Shape/Sub/Div/Slice). To fold such a crop into attributes, the bounds are evaluated at several probe
sizes: the subgraph behind a tensor is cut at constants and at Shape ops of known tensors, whose
values are substituted, and run with onnx's reference evaluator (no onnxruntime in passes).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx.reference import ReferenceEvaluator
from onnx_graphsurgeon.exporters.onnx_exporter import OnnxExporter

from onnxport.passes._graph import constant_value

MAX_NODES = 64          # bound computations are a handful of ops; anything bigger is not a bound


def evaluate(tensor: gs.Tensor, shapes: dict[str, tuple[int, ...]], opset: int) -> np.ndarray | None:
    """The value of `tensor` when the tensors named in `shapes` have those shapes; None if it depends
    on anything else (a data tensor, a graph input, too many ops)."""
    value = constant_value(tensor)
    if value is not None:
        return np.asarray(value)
    nodes, leaves = [], {}
    if not _collect(tensor, shapes, nodes, leaves, set()):
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


def _collect(t: gs.Tensor, shapes, nodes: list, leaves: dict, seen: set) -> bool:
    if t.name in seen or t.name in leaves:
        return True
    seen.add(t.name)
    value = constant_value(t)
    if value is not None:
        leaves[t.name] = value
        return True
    if len(t.inputs) != 1 or len(nodes) >= MAX_NODES:
        return False
    node = t.inputs[0]
    if node.op == "Shape" and node.inputs[0].name in shapes:
        full = np.asarray(shapes[node.inputs[0].name], np.int64)
        start, end = node.attrs.get("start", 0), node.attrs.get("end", len(full))
        leaves[t.name] = full[start:end]
        return True
    if not all(_collect(i, shapes, nodes, leaves, seen) for i in node.inputs if i.name):
        return False
    nodes.append(node)          # after its inputs: the list is in topological order
    return True
