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


def _size(tensor: gs.Tensor, axis: int) -> int | None:
    shape = tensor.shape
    if shape is None or axis >= len(shape):
        return None
    d = shape[axis]
    return int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None


def sole_user(t: gs.Tensor, graph: gs.Graph) -> gs.Node | None:
    """The one node of `graph` that reads t, where t feeds exactly one node and is no graph output. A node in
    a subgraph (If, Loop) that reads t from the outer scope is not graph's to move or fold: None."""
    if len(t.outputs) != 1 or t in graph.outputs:
        return None
    user = t.outputs[0]
    return user if any(n is user for n in graph.nodes) else None


def known_dims(tensor: gs.Tensor, rank: int) -> list:
    """The tensor's dims as ints where known, None where symbolic or unknown."""
    shape = tensor.shape if tensor.shape is not None and len(tensor.shape) == rank else [None] * rank
    return [int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None for d in shape]


def constant_value(tensor: gs.Tensor):
    """The values of a tensor that is constant (initializer, Constant node, through Identity/Cast), else None.
    Walks a chain of Identity/Cast back to its source without recursion (a chain can be very long)."""
    casts = []
    while not isinstance(tensor, gs.Constant) and len(tensor.inputs) == 1 and tensor.inputs[0].op in ("Identity", "Cast"):
        node = tensor.inputs[0]
        if node.op == "Cast":
            casts.append(onnx.helper.tensor_dtype_to_np_dtype(node.attrs["to"]))
        tensor = node.inputs[0]
    value = _source_value(tensor)
    for dtype in reversed(casts):
        value = None if value is None else value.astype(dtype)
    return value


def _source_value(tensor: gs.Tensor):
    if isinstance(tensor, gs.Constant):
        return tensor.values
    if len(tensor.inputs) != 1 or tensor.inputs[0].op != "Constant":
        return None
    for key, value in tensor.inputs[0].attrs.items():
        if key == "value":
            return value.values
        if key in ("value_float", "value_int", "value_floats", "value_ints"):
            return np.asarray(value, np.float32 if "float" in key else np.int64)
    return None


def absorb(node: gs.Node, follower: gs.Node, inputs: list) -> None:
    """`node` takes `inputs` and writes what `follower` wrote; `follower` is detached (the driver's cleanup
    drops it): a per-channel op folded into the Conv before it."""
    output = follower.outputs[0]
    follower.inputs.clear()
    follower.outputs.clear()
    node.inputs.clear()
    node.inputs.extend(inputs)
    node.outputs.clear()
    node.outputs.append(output)


def text_attr(node: gs.Node, key: str, default: str) -> str:
    """A string attribute as str (onnx-graphsurgeon hands some back as bytes)."""
    value = node.attrs.get(key, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def constant_shape(tensor: gs.Tensor) -> tuple | None:
    """The shape of a constant's values without reading them (external weights stay on disk); None if
    the tensor is not constant."""
    while not isinstance(tensor, gs.Constant) and len(tensor.inputs) == 1 and tensor.inputs[0].op in ("Identity", "Cast"):
        tensor = tensor.inputs[0].inputs[0]
    if isinstance(tensor, gs.Constant):
        return tuple(tensor.shape)
    value = constant_value(tensor)
    return None if value is None else tuple(value.shape)


def weight_shape(tensor: gs.Tensor) -> tuple | None:
    """A weight's shape: the constant's, else the shape the graph declares for it (None if neither)."""
    shape = constant_shape(tensor)
    return shape if shape is not None else (tuple(tensor.shape) if tensor.shape is not None else None)


@dataclass(frozen=True)
class Dim:
    """A Reshape target entry: const * product of the listed axes of a tensor (the builder's reference
    tensor unless `of` names another) * the further (tensor, axis) factors in `extra`. `read` factors
    are always read from Shape, even where the graph's (possibly stale) shapes say they are static."""

    const: int
    axes: tuple[int, ...] = ()
    of: gs.Tensor | None = None
    extra: tuple = ()
    read: bool = False

    def factors(self, ref: gs.Tensor) -> list[tuple[gs.Tensor, int]]:
        return [(self.of if self.of is not None else ref, a) for a in self.axes] + list(self.extra)


def product(dims: list[Dim], ref: gs.Tensor) -> Dim:
    """One Dim for the product of several (their reference tensors resolved against `ref`)."""
    const, factors = 1, []
    for d in dims:
        const *= d.const
        factors += d.factors(ref)
    return Dim(const, extra=tuple(factors))


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

    def shape_tensor(self, ref: gs.Tensor, dims: list, infer: bool = True) -> gs.Tensor:
        """An int64 shape vector from Dims over `ref` (or ready 1-element int64 tensors); a Constant when
        every dim is static.

        With infer (a Reshape target) the dim with the most symbolic factors becomes -1, so the common
        case (symbolic batch only) needs no Shape op at all; without (Resize sizes) every dim is computed.
        """
        resolved = []                                  # per dim: (static product, symbolic factors)
        for d in dims:
            if isinstance(d, gs.Tensor):
                resolved.append((None, d))
                continue
            value, symbolic = d.const, []
            for tensor, axis in d.factors(ref):
                size = None if d.read else _size(tensor, axis)
                if size is None:
                    symbolic.append((tensor, axis))
                else:
                    value *= size
            resolved.append((value, symbolic))
        unknown = [len(sym) if value is not None else 0 for value, sym in resolved]
        infer_at = max(range(len(dims)), key=lambda i: unknown[i]) if infer and max(unknown, default=0) else None
        parts, static = [], []
        for i, (value, symbolic) in enumerate(resolved):
            if value is None:                          # a ready tensor
                if static:
                    parts.append(self.ints(static, "dims"))
                    static = []
                parts.append(symbolic)
                continue
            if i == infer_at or not symbolic:
                static.append(-1 if i == infer_at else value)
                continue
            if static:
                parts.append(self.ints(static, "dims"))
                static = []
            term = self._dim_of(*symbolic[0])
            for tensor, axis in symbolic[1:]:
                term = self.op("Mul", [term, self._dim_of(tensor, axis)], stem="dim", dtype=np.int64, shape=[1])
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
            # Slice, not Gather: runtimes with short op lists (CoreML) have Slice
            self._shape_cache[key] = self.op("Slice", [self._shape_cache[shape_key], self.ints([axis], "start"),
                                                       self.ints([axis + 1], "end")], stem="dim", dtype=np.int64, shape=[1])
        return self._shape_cache[key]

    def reshape(self, x: gs.Tensor, ref: gs.Tensor, dims: list[Dim], *, shape=None, stem="reshape") -> gs.Variable:
        return self.op("Reshape", [x, self.shape_tensor(ref, dims)], stem=stem, dtype=x.dtype, shape=shape)

    def slice(self, x: gs.Tensor, starts, ends, axes, *, stem="crop", shape=None, output=None) -> gs.Variable:
        inputs = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        return self.op("Slice", inputs, stem=stem, dtype=x.dtype, shape=shape, output=output)
