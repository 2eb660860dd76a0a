"""free-reshape-sizes: a Reshape whose constant target bakes freed sizes -> a target computed from Shape.

Identity: at the exported sizes each output dim of the Reshape is the product of a run of consecutive
input dims (a flatten merges H and W, an unflatten splits them back only along runs). Writing each
such dim as that product, taken from Shape(data) where the run holds a freed (now symbolic) dim, gives
the same target at the exported sizes and the right one at every other size; a constant target would
be wrong there or, with -1 absorbing the difference, silently mix the batch into the features.
An unflatten (splitting a freed dim) takes its sizes from the tensor that was flattened, found through
per-position ops upstream. Needs Options.static_shapes (the exported shapes); a Reshape that splits a
freed dim otherwise pins that size and is a Skip saying so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from passes._graph import Dim, GraphBuilder, constant_value, known_dims
from passes._registry import Options, Pass, Skip, register

PER_POSITION = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Identity", "Dropout", "Cast", "Abs", "Neg", "Exp",
                "Log", "Sqrt", "Clip", "Gelu", "Softplus", "HardSigmoid", "Erf"}


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    source: gs.Tensor                       # the tensor whose dims the target is made of
    runs: tuple[tuple[int, ...], ...]      # per output dim: the source dims whose product it is


def match(graph: gs.Graph, node: gs.Node, options: Options):
    data, target = node.inputs[0], constant_value(node.inputs[1])
    exported = options.exported_shape(data.name)
    if target is None or exported is None or data.shape is None:
        return None
    if all(d is not None for d in known_dims(data, len(data.shape))):
        return None                                   # nothing freed upstream: the target stays right
    wanted = [int(d) for d in np.ravel(target)]
    for source in (data, _flattened(data)):
        source_shape = options.exported_shape(source.name) if source is not None else None
        runs = runs_of(list(source_shape), _resolved(wanted, exported)) if source_shape is not None else None
        if runs is not None:
            return Match((node,), source, tuple(tuple(r) for r in runs))
    return Skip(f"its target {wanted} splits a freed dim of {list(exported)}: this Reshape pins the size")


def _resolved(target: list[int], shape: list[int]) -> list[int]:
    """The target with 0 (copy) and -1 (infer) replaced by the sizes they stand for."""
    dims = [shape[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(shape) // known if known else 0
    return dims


def _flattened(t: gs.Tensor) -> gs.Tensor | None:
    """The tensor an unflatten takes apart: the input of the Reshape that flattened it, through
    per-position ops (Relu, BatchNormalization, ...) on the way."""
    while t.inputs:
        node = t.inputs[0]
        if node.op == "Reshape":
            return node.inputs[0]
        if len(node.inputs) == 0 or node.op not in PER_POSITION:
            return None
        t = node.inputs[0]
    return None


def runs_of(shape: list[int], target: list[int]) -> list[list[int]] | None:
    """Consecutive input dims whose product is each output dim (0 copies, -1 infers), or None."""
    dims = _resolved(target, shape)
    runs, i = [], 0
    for d in dims:
        run, product = [], 1
        while i < len(shape) and (product < d or (d == 1 and not run and shape[i] == 1)):
            run.append(i)
            product *= shape[i]
            i += 1
        if product != d:
            return None
        runs.append(run)
    return runs if i == len(shape) else None


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    m.nodes[0].inputs[1] = b.shape_tensor(m.source, [Dim(1, run) for run in m.runs])


PASS = register(Pass(
    name="free-reshape-sizes",
    summary="Reshape with a constant target that bakes freed sizes -> target computed from Shape, exact",
    anchor_ops=("Reshape",),
    match=match,
    rewrite=rewrite,
    doc=__doc__,
))
