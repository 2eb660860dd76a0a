"""Whether a net computes each sample on its own, so that its batch-2 output is two batch-1 outputs stacked.

The batch is followed as a symbolic dim (passes._symbolic_dims): depth folded into the batch and back
(n*d, c, h, w) keeps samples apart, a Conv with the batch in its channels or spatial dims, a reduction,
normalisation, Concat, Gather or contraction along it does not. Every output must hold the batch as
the outermost factor of its first dim, so that stacking along axis 0 is what batch 2 means.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes import Atom, BROADCASTING, UNARY, constant_value, propagate_symbolic_dims as propagate

ONLY_FIRST_DIM = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "InstanceNormalization", "LRN",
                  "MeanVarianceNormalization", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}
PER_ELEMENT = UNARY | BROADCASTING | {"BatchNormalization", "Transpose", "Reshape", "Flatten", "Squeeze",
                                      "Unsqueeze", "Shape", "Size", "Expand"}
ALONG_AXIS = {"Softmax", "LogSoftmax", "Hardmax", "Concat", "Split", "Gather", "ArgMax", "ArgMin",
              "CumSum", "LayerNormalization"}


def coupling(graph: gs.Graph, static: dict[str, list[int]], x: gs.Tensor) -> str | None:
    """The first thing that mixes the samples of input x's batch (a node, or an output that does not lead
    with the batch); None when the net keeps them apart."""
    sym = propagate(graph, static, {x.name: [0]})
    if sym.pins:
        return next(iter(sym.pins.values()))
    batch_dims = _batch_dims(sym)

    for node in graph.nodes:
        carrying = [t for t in node.inputs if t.name and batch_dims(t)]
        if not carrying:
            continue
        where = f"{node.op} '{node.name}'"
        dims = batch_dims(carrying[0])
        if node.op in ONLY_FIRST_DIM:
            if dims != [0] or any(batch_dims(t) for t in node.inputs[1:] if t.name):
                return f"{where} has the batch outside its first dim"
        elif node.op in ALONG_AXIS or node.op.startswith("Reduce"):
            if set(_axes(node, len(static.get(carrying[0].name, [])))) & set(dims):
                return f"{where} works along the batch"
        elif node.op in ("MatMul", "Gemm", "Einsum"):
            rank = len(static.get(node.inputs[0].name, []))
            if any(t is node.inputs[0] for t in carrying) and rank - 1 in batch_dims(node.inputs[0]):
                return f"{where} contracts over the batch"
        elif node.op in ("Resize", "Upsample", "Pad", "Slice", "Tile", "DepthToSpace", "SpaceToDepth"):
            out = node.outputs[0].name
            if any(static[out][i] != static[carrying[0].name][i] for i in dims if out in static):
                return f"{where} changes the batch's length"
        elif node.op not in PER_ELEMENT:
            return f"{node.op} '{node.name}' (not known to keep samples apart)"
    return _output_without_batch(graph, sym)


def lost_batch(graph: gs.Graph, static: dict[str, list[int]], x: gs.Tensor) -> str | None:
    """Why input x's axis 0 is no batch of the outputs (an output does not hold it as the outermost factor of
    its first dim: a view regrouped it with other axes), or None. Freeing such an axis gives a model that
    runs at batch 2 and answers something else (strip-sizes keeps it fixed)."""
    sym = propagate(graph, static, {x.name: [0]})
    return None if sym.pins else _output_without_batch(graph, sym, followed_only=True)


def _batch_dims(sym):
    return lambda t: [i for i, d in enumerate(sym.dims.get(t.name, [])) if any(isinstance(f, Atom) for f in d)]


def _output_without_batch(graph: gs.Graph, sym, followed_only: bool = False) -> str | None:
    """The first output that does not lead with the batch; followed_only: among the outputs the symbolic dims
    reach (where they stop, as at a Gemm head, nothing is known either way)."""
    batch_dims = _batch_dims(sym)
    for t in graph.outputs:
        if followed_only and not sym.dims.get(t.name):
            continue
        first = sym.dims.get(t.name, [()])[0] if sym.dims.get(t.name) else ()
        if batch_dims(t) != [0] or not first or not isinstance(first[0], Atom):
            return f"output '{t.name}' does not lead with the batch"
    return None


def _axes(node: gs.Node, rank: int) -> list[int]:
    """The axes an along-axis op or a reduction works on."""
    if node.op.startswith("Reduce"):
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1].name:
            axes = constant_value(node.inputs[1])
        return [int(a) % rank for a in np.ravel(axes)] if axes is not None else list(range(rank))
    if node.op == "LayerNormalization":
        return list(range(node.attrs.get("axis", -1) % rank, rank))
    default = 1 if node.op in ("Softmax", "LogSoftmax", "Hardmax") else 0
    return [node.attrs.get("axis", default) % rank] if rank else []
