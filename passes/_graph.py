"""Small helpers every pass shares: collision-free node building, constants, shape tensors.

Passes only read and write onnx-graphsurgeon graphs; these helpers keep the house rules in one place:
every new name goes through GraphBuilder.name (names never collide, the replaced output keeps its own),
constants are always new tensors (a Constant other nodes share is never overwritten), and Reshape
targets are computed from Shape only for dims that are not known statically, so no input size is baked
in where it is symbolic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs

INT64_MAX = np.iinfo(np.int64).max


def default_opset(graph: gs.Graph) -> int:
    return int(graph.opset)


def known_dims(tensor: gs.Tensor, rank: int) -> list:
    """The tensor's dims as ints where known, None where symbolic or unknown."""
    shape = tensor.shape if tensor.shape is not None and len(tensor.shape) == rank else [None] * rank
    return [int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None for d in shape]


def constant_value(tensor: gs.Tensor):
    """The values of a tensor that is constant (initializer, Constant node, through Identity/Cast), else None."""
    if isinstance(tensor, gs.Constant):
        return tensor.values
    if len(tensor.inputs) != 1:
        return None
    node = tensor.inputs[0]
    if node.op == "Identity":
        return constant_value(node.inputs[0])
    if node.op == "Cast":
        value = constant_value(node.inputs[0])
        return None if value is None else value.astype(onnx.helper.tensor_dtype_to_np_dtype(node.attrs["to"]))
    if node.op != "Constant":
        return None
    for key, value in node.attrs.items():
        if key == "value":
            return value.values
        if key in ("value_float", "value_int", "value_floats", "value_ints"):
            return np.asarray(value, np.float32 if "float" in key else np.int64)
    return None


@dataclass(frozen=True)
class Dim:
    """A Reshape target entry: const * product of the listed axes of a tensor (the builder's reference
    tensor unless `of` names another)."""

    const: int
    axes: tuple[int, ...] = ()
    of: gs.Tensor | None = None


class GraphBuilder:
    """Appends nodes to a graph under a name prefix; the driver toposorts and cleans up afterwards."""

    def __init__(self, graph: gs.Graph, prefix: str, taken: set[str]):
        self.graph = graph
        self.prefix = prefix
        self.taken = taken
        self._shape_cache: dict = {}

    def name(self, stem: str) -> str:
        base = f"{self.prefix}/{stem}"
        name, i = base, 1
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def const(self, values, stem: str = "const") -> gs.Constant:
        return gs.Constant(self.name(stem), np.ascontiguousarray(values))

    def ints(self, values, stem: str = "ints") -> gs.Constant:
        return self.const(np.asarray(values, np.int64), stem)

    def op(self, op_type: str, inputs, attrs=None, *, stem=None, dtype=None, shape=None,
           output: gs.Variable | None = None) -> gs.Variable:
        """Add one node; returns its (single) output. `output` reuses an existing tensor as the result."""
        stem = stem or op_type.lower()
        out = output if output is not None else gs.Variable(self.name(stem), dtype=dtype, shape=shape)
        node = gs.Node(op_type, name=self.name(stem + "_node"), attrs=dict(attrs or {}),
                       inputs=list(inputs), outputs=[out])
        self.graph.nodes.append(node)
        return out

    def shape_tensor(self, ref: gs.Tensor, dims: list[Dim]) -> gs.Tensor:
        """An int64 Reshape target from Dims over `ref`; a Constant when every dim is static.

        The dim with the most symbolic factors becomes -1, so the common case (symbolic batch only)
        needs no Shape op at all.
        """
        def known(d: Dim) -> list:
            source = d.of if d.of is not None else ref
            rank = max(max(d.axes, default=-1) + 1, len(source.shape) if source.shape is not None else 0)
            return known_dims(source, rank)

        unknown = [sum(known(d)[a] is None for a in d.axes) for d in dims]
        infer_at = max(range(len(dims)), key=lambda i: unknown[i]) if max(unknown, default=0) else None
        parts, static = [], []
        for i, d in enumerate(dims):
            if i == infer_at:
                static.append(-1)
                continue
            value = d.const
            symbolic = []
            sizes = known(d)
            for a in d.axes:
                if sizes[a] is None:
                    symbolic.append(a)
                else:
                    value *= sizes[a]
            if not symbolic:
                static.append(value)
                continue
            if static:
                parts.append(self.ints(static, "dims"))
                static = []
            source = d.of if d.of is not None else ref
            term = self._dim_of(source, symbolic[0])
            for a in symbolic[1:]:
                term = self.op("Mul", [term, self._dim_of(source, a)], stem="dim", dtype=np.int64, shape=[1])
            if value != 1:
                term = self.op("Mul", [term, self.ints([value], "scale")], stem="dim", dtype=np.int64, shape=[1])
            parts.append(term)
        if not parts:
            return self.ints(static, "shape")
        if static:
            parts.append(self.ints(static, "dims"))
        return self.op("Concat", parts, {"axis": 0}, stem="shape", dtype=np.int64, shape=[len(dims)])

    def _dim_of(self, ref: gs.Tensor, axis: int) -> gs.Tensor:
        key = (id(ref), axis)
        if key not in self._shape_cache:
            shape_key = (id(ref), "shape")
            if shape_key not in self._shape_cache:
                self._shape_cache[shape_key] = self.op("Shape", [ref], stem="shape_of", dtype=np.int64)
            self._shape_cache[key] = self.op("Gather", [self._shape_cache[shape_key], self.ints([axis], "axis")],
                                             {"axis": 0}, stem="dim", dtype=np.int64, shape=[1])
        return self._shape_cache[key]

    def reshape(self, x: gs.Tensor, ref: gs.Tensor, dims: list[Dim], *, shape=None, stem="reshape") -> gs.Variable:
        return self.op("Reshape", [x, self.shape_tensor(ref, dims)], stem=stem, dtype=x.dtype, shape=shape)

    def slice(self, x: gs.Tensor, starts, ends, axes, *, stem="crop", shape=None, output=None) -> gs.Variable:
        inputs = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        return self.op("Slice", inputs, stem=stem, dtype=x.dtype, shape=shape, output=output)
