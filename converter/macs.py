"""Multiply-accumulate counts of Conv, ConvTranspose, Gemm and MatMul at concrete input sizes.

Counted as the ops compute them, zero weights included: a Conv does N*C_out*prod(out)*C_in/group*prod(k),
a ConvTranspose N*C_in*prod(in)*C_out/group*prod(k), a (Mat)Mul M*N*K per batch. Other ops are memory
moves or elementwise and are left out.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.converter import shape_inference


def count(graph: gs.Graph, input_shapes: dict, infos: dict | None = None) -> int | None:
    """Total MACs at the given input sizes; None if some counted op has an unknown shape."""
    found = per_node(graph, input_shapes, infos)
    return None if found is None else sum(found.values())


def per_node(graph: gs.Graph, input_shapes: dict, infos: dict | None = None) -> dict[str, int] | None:
    """MACs of each counted node at the given input sizes (`infos`: shape_inference.infer at those sizes, if at hand);
    None if some counted op has an unknown shape."""
    infos = shape_inference.infer(graph, input_shapes) if infos is None else infos

    def dims(t: gs.Tensor):
        if isinstance(t, gs.Constant):
            return list(t.shape)
        vi = infos.get(t.name)
        d = shape_inference.dims_of(vi) if vi is not None else None
        return d if d is not None and all(isinstance(v, int) and v > 0 for v in d) else None

    found = {}
    for node in graph.nodes:
        if node.op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        x, w, y = dims(node.inputs[0]), dims(node.inputs[1]), dims(node.outputs[0])
        if x is None or w is None or y is None:
            return None
        if node.op == "Conv":
            found[node.name] = int(np.prod(y)) * int(np.prod(w[1:]))
        elif node.op == "ConvTranspose":
            found[node.name] = int(np.prod(x)) * int(np.prod(w[1:]))
        else:
            k = x[-2] if node.op == "Gemm" and node.attrs.get("transA", 0) else x[-1]
            found[node.name] = int(np.prod(y)) * k
    return found
