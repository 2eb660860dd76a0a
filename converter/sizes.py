"""Admissible input sizes: for each spatial axis of each input, the sizes m + k*n at which every layer
loses nothing at its border and every join lines up.

Per axis, a Conv/Pool maps a length L to (L + p_b + p_e - d*(k-1) - 1)/s + 1 and loses nothing exactly
when the numerator is a multiple of s; a ConvTranspose maps L to s*(L-1) + op + d*(k-1) + 1 - p_b - p_e;
an integer Resize multiplies, Pad adds, a Slice takes a fixed or end-relative part, a join (Add,
Concat of other axes, ...) needs equal lengths.
The input length is followed through the graph as u (a free integer) with every length an affine
a*u + b; a divisibility condition a*u + b = 0 (mod s) restricts u to u0 + (s/g)*v, and every length is
rewritten in v; an equality between two lengths fixes u. What remains is n = m + k*v with v >= 0, m the
smallest size at which every length is >= 1. For four k5 s2 layers that is 61 + 16n.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import onnx_graphsurgeon as gs

from passes._convtranspose import resolve
from passes._graph import constant_value, text_attr, weight_shape

PASS_THROUGH = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Exp", "Log", "Abs", "Neg", "Sqrt", "Clip", "Softplus",
    "Softsign", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Mish", "Identity", "Dropout", "Cast", "BatchNormalization",
    "InstanceNormalization", "LRN", "PRelu", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Not", "ThresholdedRelu",
    "Celu", "Swish", "Sin", "Cos",
}
JOINS = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "And", "Or", "Xor", "Equal",
         "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Mod"}
WINDOWED = {"Conv", "MaxPool", "AveragePool", "LpPool"}
HEADS = {"Flatten", "Gemm", "MatMul"}


@dataclass
class AxisSizes:
    input: str
    axis: int
    minimum: int | None = None       # None: no admissible size
    step: int | None = None          # 0: a single size
    exported: int | None = None
    pinned_by: str = ""
    note: str = ""
    follows: tuple = ()              # (graph output, axis) whose length equals this input's

    def text(self) -> str:
        if self.minimum is None:
            return f"no admissible size ({self.note})"
        if self.step == 0:
            return f"{self.minimum} only" + (f" (pinned by {self.pinned_by})" if self.pinned_by else "")
        text = f"{self.minimum} + {'' if self.step == 1 else self.step}n"
        if self.exported is not None:
            if (self.exported - self.minimum) % self.step == 0 and self.exported >= self.minimum:
                text += f" (exported at {self.exported} = {self.minimum} + {self.step}*{(self.exported - self.minimum) // self.step})"
            else:
                text += f" (exported at {self.exported}, which is not admissible)"
        return text + (f"; {self.note}" if self.note else "")

    def next_admissible(self, n: int) -> int | None:
        if self.minimum is None:
            return None
        if self.step == 0:
            return self.minimum if n <= self.minimum else None
        return self.minimum + self.step * max(0, -(-(n - self.minimum) // self.step))

    def as_dict(self) -> dict:
        return dict(asdict(self), text=self.text())


class _NoSize(Exception):
    """The traced axis cannot be admissible; the message says where."""


class _Stop(Exception):
    """The analysis cannot follow the axis further (an op it does not model)."""


@dataclass
class _Lattice:
    """u is free; every tracked length is a*u + b. Reparametrising rewrites them all."""

    lengths: dict            # tensor name -> (dim index, a, b)
    n: tuple[int, int]       # the input length as (a, b)
    pinned_by: str = ""

    def require_multiple(self, a: int, b: int, s: int, where: str) -> None:
        """a*u + b = 0 (mod s)."""
        if s == 1:
            return
        g = math.gcd(a, s)
        if b % g:
            raise _NoSize(f"{where} cannot lose nothing at its border at any size")
        if a == 0:
            return
        s2, a2 = s // g, (a // g) % (s // g)
        u0 = (-(b // g) * pow(a2, -1, s2)) % s2 if s2 > 1 else 0
        self.substitute(s2, u0)

    def require_equal(self, x: tuple[int, int], y: tuple[int, int], where: str) -> None:
        (a1, b1), (a2, b2) = x, y
        if a1 == a2:
            if b1 != b2:
                raise _NoSize(f"{where} joins lengths that never match")
            return
        u, rem = divmod(b2 - b1, a1 - a2)
        if rem:
            raise _NoSize(f"{where} joins lengths that never match")
        self.substitute(0, u)
        self.pinned_by = self.pinned_by or where

    def substitute(self, q: int, u0: int) -> None:
        """u = u0 + q*v."""
        self.lengths = {k: (d, a * q, a * u0 + b) for k, (d, a, b) in self.lengths.items()}
        self.n = (self.n[0] * q, self.n[0] * u0 + self.n[1])

    def get(self, t: gs.Tensor):
        return self.lengths.get(t.name)


def admissible_sizes(graph: gs.Graph) -> list[AxisSizes]:
    """One AxisSizes per spatial axis (2 and up) of every graph input of rank >= 3."""
    results = []
    for x in graph.inputs:
        if x.shape is None or len(x.shape) < 3:
            continue
        for axis in range(2, len(x.shape)):
            exported = x.shape[axis] if isinstance(x.shape[axis], int) and x.shape[axis] > 0 else None
            results.append(_analyse(graph, x, axis, exported))
    return results


def _analyse(graph: gs.Graph, x: gs.Tensor, axis: int, exported: int | None) -> AxisSizes:
    result = AxisSizes(x.name, axis, exported=exported)
    lattice = _Lattice({x.name: (axis, 1, 0)}, (1, 0))
    try:
        for node in graph.nodes:
            traced = [(i, t, lattice.get(t)) for i, t in enumerate(node.inputs) if lattice.get(t) is not None]
            if traced:
                _step(node, traced, lattice, exported)
    except _NoSize as e:
        result.note = str(e)
        return result
    except _Stop as e:
        result.note = f"not followed past {e}"
    result.follows = tuple((t.name, lattice.lengths[t.name][0]) for t in graph.outputs
                           if t.name in lattice.lengths and lattice.lengths[t.name][1:] == lattice.n)
    if lattice.n[0] == 0:
        if lattice.n[1] < 1 or any(a == 0 and b < 1 for _, a, b in lattice.lengths.values()):
            result.note = f"{lattice.pinned_by} fixes the size where some length is below 1"
            return result
        result.minimum, result.step, result.pinned_by = lattice.n[1], 0, lattice.pinned_by
        return result
    low = max([-(-(1 - b) // a) for _, a, b in lattice.lengths.values() if a > 0] +
              [-(-(1 - lattice.n[1]) // lattice.n[0])])
    if any(a == 0 and b < 1 for _, a, b in lattice.lengths.values()):
        result.note = "some length is below 1 at every size"
        return result
    result.minimum, result.step = lattice.n[0] * low + lattice.n[1], lattice.n[0]
    return result


def _name(node: gs.Node) -> str:
    return f"{node.op} '{node.name}'"


def _step(node: gs.Node, traced, lattice: _Lattice, exported) -> None:
    """Apply one node to the tracked lengths of its inputs."""
    (index, first, (dim, a, b)) = traced[0]
    op = node.op
    if op in PASS_THROUGH or (op == "Softmax" and node.attrs.get("axis", -1) % 100 != dim):
        _out(node, lattice, dim, a, b)
    elif op in JOINS or (op == "Concat" and node.attrs["axis"] != dim):
        for _, _, (d2, a2, b2) in traced[1:]:
            if d2 != dim:
                raise _Stop(f"{_name(node)} (inputs tracked on different dims)")
            lattice.require_equal((a, b), (a2, b2), _name(node))
        _out(node, lattice, dim, *lattice.get(first)[1:])
    elif op == "Concat":
        total_a = sum(lattice.get(t)[1] if lattice.get(t) else 0 for t in node.inputs)
        total_b = sum(lattice.get(t)[2] if lattice.get(t) else _static(t, dim) for t in node.inputs)
        _out(node, lattice, dim, total_a, total_b)
    elif op in WINDOWED and index == 0 and dim >= 2:
        _windowed(node, lattice, dim, a, b)
    elif op == "ConvTranspose" and index == 0 and dim >= 2:
        shape = weight_shape(node.inputs[1])
        fixed = node.attrs.get("output_shape")
        if fixed:                                   # the output length no longer follows the input
            _out(node, lattice, dim, 0, int(list(fixed)[-(len(shape) - 2) + dim - 2]))
            return
        ax = resolve(node.name, node.attrs, shape, [None] * (len(shape) - 2)).axes[dim - 2]
        _out(node, lattice, dim, ax.stride * a, ax.stride * b + ax.length_offset)
    elif op in ("Resize", "Upsample") and index == 0:
        _resize(node, lattice, dim, a, b)
    elif op == "Pad" and index == 0:
        _pad(node, lattice, dim, a, b)
    elif op == "Slice" and index == 0:
        _slice(node, lattice, dim, a, b)
    elif op in ("GlobalAveragePool", "GlobalMaxPool"):
        _out(node, lattice, dim, 0, 1)
    elif op == "Transpose":
        perm = list(node.attrs["perm"])
        _out(node, lattice, perm.index(dim), a, b)
    elif op == "Shape":
        return
    elif op == "Reshape" and index == 0:
        _reshape(node, lattice, dim, a, b)
    elif op in HEADS:
        if exported is None:
            raise _Stop(f"{_name(node)}, which fixes the size (its features are counted)")
        lattice.require_equal((a, b), (0, _exported_length(a, b, lattice, exported)), _name(node))
        lattice.pinned_by = _name(node)
        for t in node.outputs:
            lattice.lengths.pop(t.name, None)
    else:
        raise _Stop(_name(node))


def _exported_length(a: int, b: int, lattice: _Lattice, exported: int) -> int:
    """The tracked length at the exported input size (u solving n == exported)."""
    na, nb = lattice.n
    if na == 0:
        return b
    u, rem = divmod(exported - nb, na)
    if rem:
        raise _NoSize("the exported size is not admissible")
    return a * u + b


def _out(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    for t in node.outputs:
        if t.name:
            lattice.lengths[t.name] = (dim, a, b)


def _static(t: gs.Tensor, dim: int) -> int:
    if t.shape is None or not isinstance(t.shape[dim], int):
        raise _Stop(f"a Concat input '{t.name}' of unknown length")
    return t.shape[dim]


def _windowed(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    i = dim - 2
    kernel = node.attrs.get("kernel_shape")
    if kernel is None:                                      # a Conv: the kernel is the weight's shape
        shape = weight_shape(node.inputs[1])
        if shape is None:
            raise _Stop(f"{_name(node)} (a computed weight of unknown shape)")
        kernel = shape[2:]
    kernel = list(kernel)
    n = len(kernel)
    k, s = kernel[i], node.attrs.get("strides", [1] * n)[i]
    d = node.attrs.get("dilations", [1] * n)[i]
    if s < 1 or d < 1:
        raise _Stop(f"{_name(node)} (stride {s}, dilation {d})")
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):            # out = ceil(L/s): exact when s divides L
        lattice.require_multiple(a, b, s, _name(node))
        a, b = lattice.lengths[node.inputs[0].name][1:]
        _out(node, lattice, dim, a // s, b // s)
        return
    pads = [0] * (2 * n) if auto_pad == "VALID" else list(node.attrs.get("pads", [0] * (2 * n)))
    extra = pads[i] + pads[n + i] - d * (k - 1) - 1
    lattice.require_multiple(a, b + extra, s, _name(node))
    a, b = lattice.lengths[node.inputs[0].name][1:]
    _out(node, lattice, dim, a // s, (b + extra) // s + 1)


def _resize(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    from passes._resize import resize_spec
    spec = resize_spec(node, len(node.inputs[0].shape or []) or dim + 1)
    if isinstance(spec, str) or spec.scales is None:
        raise _Stop(f"{_name(node)} (sizes, or computed scales)")
    scale = spec.scales[dim]
    if scale >= 1 and scale == int(scale):
        _out(node, lattice, dim, int(scale) * a, int(scale) * b)
    elif scale < 1 and (1 / scale) == int(1 / scale):
        lattice.require_multiple(a, b, int(1 / scale), _name(node))
        a, b = lattice.lengths[node.inputs[0].name][1:]
        _out(node, lattice, dim, a // int(1 / scale), b // int(1 / scale))
    else:
        raise _Stop(f"{_name(node)} (scale {scale} is not an integer or its inverse)")


def _reshape(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    """Followed where the traced axis stays a dim of its own (the Reshape only regroups the others)."""
    from passes.free_reshape_sizes import runs_of
    data, target = node.inputs[0], constant_value(node.inputs[1])
    shape = data.shape
    if target is None or shape is None or not all(isinstance(d, int) for d in shape):
        raise _Stop(f"{_name(node)} (computed target or unknown input shape)")
    runs = runs_of(list(shape), [int(v) for v in np.ravel(target)])
    where = [i for i, run in enumerate(runs or []) if dim in run]
    if not where or runs[where[0]] != [dim]:
        raise _Stop(f"{_name(node)} (it merges or splits the axis)")
    _out(node, lattice, where[0], a, b)


def _slice(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    """Constant bounds: a start or end counted from the end follows the length; one from the start is fixed."""
    bounds = [constant_value(t) if t.name else None for t in node.inputs[1:5]] + [None] * 4
    starts, ends, axes, steps = bounds[:4]
    if starts is None or ends is None or (len(node.inputs) > 3 and node.inputs[3].name and axes is None):
        raise _Stop(f"{_name(node)} (computed bounds)")
    rank = len(node.inputs[0].shape) if node.inputs[0].shape is not None else dim + 1
    axes = [int(v) % rank for v in np.ravel(axes)] if axes is not None else list(range(len(np.ravel(starts))))
    if dim not in axes:
        _out(node, lattice, dim, a, b)
        return
    i = axes.index(dim)
    if steps is not None and int(np.ravel(steps)[i]) != 1:
        raise _Stop(f"{_name(node)} (a step other than 1)")
    begin, end = int(np.ravel(starts)[i]), int(np.ravel(ends)[i])
    begin_at = (a, b + begin) if begin < 0 else (0, begin)
    end_at = (a, b) if end >= 2**31 else ((a, b + end) if end < 0 else (0, end))
    _out(node, lattice, dim, end_at[0] - begin_at[0], end_at[1] - begin_at[1])


def _pad(node: gs.Node, lattice: _Lattice, dim: int, a: int, b: int) -> None:
    pads = constant_value(node.inputs[1]) if len(node.inputs) > 1 else np.asarray(node.attrs.get("pads", []))
    if pads is None or (len(node.inputs) > 3 and node.inputs[3].name):
        raise _Stop(f"{_name(node)} (computed pads or axes)")
    pads = [int(p) for p in np.ravel(pads)]
    rank = len(pads) // 2
    _out(node, lattice, dim, a, b + pads[dim] + pads[rank + dim])
