"""Which freed input dims every dim of every tensor is made of: the model strip-sizes rewrites by.

A freed input dim (the batch N, a depth D) is an atom; every tensor dim is a product of a constant and
atoms, in element order (after `x.reshape(n*d, c, h, w)` dim 0 is N*D). A layer that computes a new
length from a freed one (a strided Conv, a Concat along it) makes a new atom, whose value at run time
is read from the tensor it first appears in (its home: Shape(home)[axis]). A Reshape moves atoms to
the output dims the element order puts them in (passes._reshape.place); a size-1 atom (the batch of a
batch-1 export) takes the size-1 output dim the exporter wrote for it. A Reshape target that bakes a
freed size is then rewritten as the product of its dims' atoms, taken from Shape of their homes.

A freed dim is pinned where it meets a fixed size: a constant with another length at that position (a
positional embedding), a weight's features or channels, or a Reshape that splits it across dims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import constant_value, text_attr
from onnxport.passes._ops import BROADCASTING, SHAPE_PRESERVING
from onnxport.passes._reshape import inner_strides, place

WINDOWED = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}
LENGTH_CHANGING = {"Resize", "Upsample", "Pad", "Slice", "DepthToSpace", "SpaceToDepth", "Tile"}
REDUCTIONS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSumExp", "ReduceSumSquare", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}


@dataclass(frozen=True)
class Atom:
    home: str                      # the tensor whose dim `axis` has this length at run time
    axis: int
    value: int                     # at the exported sizes
    sources: frozenset             # the freed (input, axis) pairs it follows


Factor = int | Atom


@dataclass
class SymbolicDims:
    dims: dict[str, list[tuple[Factor, ...]]] = field(default_factory=dict)     # tensor -> per dim factors
    pins: dict[tuple[str, int], str] = field(default_factory=dict)              # freed dim -> why it is fixed

    def atoms(self, name: str, axis: int) -> list[Atom]:
        return [f for f in self.dims[name][axis] if isinstance(f, Atom)]

    def symbolic(self, name: str) -> bool:
        return name in self.dims and any(isinstance(f, Atom) for d in self.dims[name] for f in d)


def value(factors: tuple[Factor, ...]) -> int:
    return math.prod(f.value if isinstance(f, Atom) else f for f in factors)


def constant_part(factors: tuple[Factor, ...]) -> int:
    return math.prod(f for f in factors if not isinstance(f, Atom))


def propagate(graph: gs.Graph, static: dict[str, list[int]], freed: dict[str, list[int]]) -> SymbolicDims:
    """The factors of every tensor dim (static: exported shapes; freed: input -> axes made symbolic)."""
    static = {**{n: list(t.shape) for n, t in graph.tensors().items() if isinstance(t, gs.Constant)}, **static}
    result = SymbolicDims()
    for x in graph.inputs:
        if x.name in static:
            result.dims[x.name] = [(Atom(x.name, i, d, frozenset({(x.name, i)})),) if i in freed.get(x.name, ())
                                   else (d,) for i, d in enumerate(static[x.name])]
    for node in graph.nodes:
        if any(result.symbolic(t.name) for t in node.inputs if t.name):
            _step(node, result, static)
            _pin_where_lost(node, result, static)
    return result


def _pin_where_lost(node: gs.Node, result: SymbolicDims, static: dict) -> None:
    """A freed dim that reaches a node whose outputs the rules could not describe cannot be followed past
    it: nothing downstream would be rewritten for it, so it stays fixed (pinned there)."""
    if node.op in ("Shape", "Size") or all(t.name in result.dims for t in node.outputs if t.name in static):
        return
    atoms = [f for t in node.inputs if t.name in result.dims for d in result.dims[t.name] for f in d
             if isinstance(f, Atom)]
    _pin(result, atoms, node, "cannot be followed (the freed sizes are lost there)")


def _step(node: gs.Node, result: SymbolicDims, static: dict) -> None:
    op = node.op
    outs = [t for t in node.outputs if t.name and t.name in static]
    x = node.inputs[0]
    if not outs:                    # nothing known to carry the dims to: they cannot be followed, so they pin
        atoms = [f for t in node.inputs if t.name in result.dims for d in result.dims[t.name] for f in d
                 if isinstance(f, Atom)]
        if node.outputs and op not in ("Shape", "Size"):
            _pin(result, atoms, node, "has outputs of unknown shape (the freed sizes cannot be followed past it)")
        return
    if op in SHAPE_PRESERVING or op in ("Softmax", "LogSoftmax", "LayerNormalization", "GroupNormalization"):
        _set(result, outs[:1], result.dims.get(x.name))
        if op == "LayerNormalization":
            axis = node.attrs.get("axis", -1) % len(static[x.name])
            _pin(result, [a for d in result.dims[x.name][axis:] for a in d if isinstance(a, Atom)], node, "normalises over it")
    elif op in BROADCASTING:
        _broadcast(node, result, static, outs)
    elif op in WINDOWED:
        dims = result.dims[x.name]
        if op in ("Conv", "ConvTranspose"):            # weights count the channels; a pool takes any
            _pin(result, [a for a in dims[1] if isinstance(a, Atom)], node, "takes it as channels")
        channels = dims[1] if op not in ("Conv", "ConvTranspose") else (static[outs[0].name][1],)
        _set(result, outs[:1], [dims[0], channels] + _new_atoms(outs[0], dims[2:], static, 2))
    elif op in LENGTH_CHANGING:
        _length_changing(node, result, static, outs)
    elif op == "Transpose":
        perm = list(node.attrs.get("perm", range(len(static[x.name]))[::-1]))
        _set(result, outs, [result.dims[x.name][p] for p in perm])
    elif op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        _regroup(node, result, static, outs)
    elif op == "Concat":
        axis = node.attrs["axis"] % len(static[outs[0].name])
        dims = list(_joined(node, result, static, outs[0], broadcast=False))
        along = [result.dims[t.name][axis] if t.name in result.dims else (static[t.name][axis],) for t in node.inputs]
        dims[axis] = _new_atoms(outs[0], [sum(along, ())], static, axis)[0] if any(
            isinstance(f, Atom) for d in along for f in d) else (static[outs[0].name][axis],)
        _set(result, outs, dims)
    elif op in ("MatMul", "Gemm", "Einsum"):
        _contraction(node, result, static, outs)
    elif op in REDUCTIONS or op in ("ArgMax", "ArgMin"):
        _reduce(node, result, static, outs)
    elif op == "Gather" and constant_value(node.inputs[1]) is not None:
        axis = node.attrs.get("axis", 0) % len(static[x.name])
        dims = result.dims[x.name]
        picked = [(d,) for d in np.shape(constant_value(node.inputs[1]))]
        _set(result, outs, dims[:axis] + picked + dims[axis + 1:])
    elif op == "Split":
        axis = node.attrs.get("axis", 0) % len(static[x.name])
        dims = result.dims[x.name]
        for t in outs:
            _set(result, [t], dims[:axis] + _new_atoms(t, [dims[axis]], static, axis) + dims[axis + 1:])
    elif op == "Expand":
        _set(result, outs, _joined(node, result, static, outs[0], ignore=node.inputs[1:]))
    elif op in ("Shape", "Size"):
        return                                            # sizes become values; their consumers are shape math
    else:
        _unknown(node, result, static, outs)


def _set(result: SymbolicDims, outs, dims) -> None:
    for t in outs:
        if dims is not None:
            result.dims[t.name] = list(dims)


def _pin(result: SymbolicDims, atoms, node: gs.Node, why: str) -> None:
    for atom in atoms:
        for source in atom.sources:
            result.pins.setdefault(source, f"{node.op} '{node.name}' {why}")


def _new_atoms(out: gs.Tensor, dims, static, first_axis: int) -> list[tuple[Factor, ...]]:
    """Dims computed from symbolic ones become new atoms homed in `out`; static ones stay constants."""
    found = []
    for i, d in enumerate(dims):
        axis = first_axis + i
        atoms = [f for f in d if isinstance(f, Atom)]
        size = static[out.name][axis]
        found.append((Atom(out.name, axis, size, frozenset().union(*[a.sources for a in atoms])),) if atoms else (size,))
    return found


def _broadcast(node, result: SymbolicDims, static, outs) -> None:
    _set(result, outs, _joined(node, result, static, outs[0]))


def _joined(node, result: SymbolicDims, static, out: gs.Tensor, ignore=(), broadcast: bool = True) -> list[tuple[Factor, ...]]:
    """Numpy broadcasting of the inputs' dims: a symbolic dim wins; a constant other than 1 beside it pins
    it (`ignore`: inputs that are not broadcast operands, like Expand's shape, which free-baked-sizes frees).
    Without broadcast (Concat's other axes must be equal) a constant 1 pins it too: a ViT's class token,
    a (1, 1, C) constant joined to the (N, L, C) tokens, holds the batch at 1."""
    rank = len(static[out.name])
    dims = [(d,) for d in static[out.name]]
    for i in range(rank):
        column = []
        for t in node.inputs:
            if any(t is u for u in ignore):
                continue
            shape = static.get(t.name) if t.name else None
            if shape is None or i - (rank - len(shape)) < 0:
                continue
            j = i - (rank - len(shape))
            column.append(result.dims[t.name][j] if t.name in result.dims else (shape[j],))
        symbolic = [d for d in column if any(isinstance(f, Atom) for f in d)]
        if symbolic:
            dims[i] = symbolic[0]
            fixed = [d for d in column if d not in symbolic and (value(d) != 1 or not broadcast)]
            if fixed:
                _pin(result, [f for d in symbolic for f in d if isinstance(f, Atom)], node,
                     f"meets a fixed size {value(fixed[0])}")
    return dims


def _length_changing(node, result: SymbolicDims, static, outs) -> None:
    x = node.inputs[0]
    dims = result.dims[x.name]
    out = outs[0]
    changed = [i for i, (a, b) in enumerate(zip(static[x.name], static[out.name])) if a != b]
    if node.op in ("Slice", "Pad"):
        changed = sorted(set(changed) | set(_touched_axes(node, len(dims))))
    kept = [d if i not in changed else _new_atoms(out, [d], static, i)[0] for i, d in enumerate(dims)]
    _set(result, outs, kept)


def _touched_axes(node, rank: int) -> list[int]:
    """The axes a Slice or Pad names (all, when its axes are implicit)."""
    axes_input = 3
    if len(node.inputs) > axes_input and node.inputs[axes_input].name:
        value_ = constant_value(node.inputs[axes_input])
        return [int(a) % rank for a in np.ravel(value_)] if value_ is not None else list(range(rank))
    if node.op == "Slice" and len(node.inputs) > 1:
        starts = constant_value(node.inputs[1])
        return list(range(len(np.ravel(starts)))) if starts is not None else list(range(rank))
    return list(range(rank))


def _regroup(node, result: SymbolicDims, static, outs) -> None:
    """Each atom goes to the output dim the element order puts it in; constants fill the rest."""
    x = node.inputs[0]
    target = static[outs[0].name]
    factors = [f for d in result.dims[x.name] for f in d]
    strides = inner_strides([f.value if isinstance(f, Atom) else f for f in factors])
    placed: dict[int, list[tuple[int, Atom]]] = {}
    taken: set[int] = set()
    for f, inner in zip(factors, strides):
        if not isinstance(f, Atom):
            continue
        j = place(inner, f.value, target, taken)
        if j is None:
            _pin(result, [f], node, "splits it across dims")
            result.dims[outs[0].name] = [(d,) for d in target]
            return
        taken.add(j)
        placed.setdefault(j, []).append((inner, f))
    out_strides = inner_strides(target)
    dims = []
    for j, size in enumerate(target):
        outer_end = out_strides[j] * size
        parts: list[Factor] = []
        for inner, atom in sorted(placed.get(j, []), key=lambda p: -p[0]):
            parts += [outer_end // (inner * atom.value), atom]
            outer_end = inner
        parts.append(outer_end // out_strides[j])
        dims.append(tuple(p for p in parts if isinstance(p, Atom) or p != 1) or (1,))
    result.dims[outs[0].name] = dims


def _contraction(node, result: SymbolicDims, static, outs) -> None:
    """MatMul/Gemm/Einsum by letters: a symbolic dim that meets a fixed length under the same letter
    (a weight's features) is pinned; the output takes each letter's symbolic dim where there is one."""
    if node.op == "Einsum":
        equation = text_attr(node, "equation", "").replace(" ", "")
        if "->" not in equation or "..." in equation:
            return _unknown(node, result, static, outs)
        terms, out_term = equation.split("->")[0].split(","), equation.split("->")[1]
    else:
        ranks = [len(static[t.name]) for t in node.inputs[:2]]
        batch = "abcdefgh"[:max(ranks) - 2]
        flip = (node.attrs.get("transA", 0), node.attrs.get("transB", 0))
        terms = [batch[len(batch) - ranks[0] + 2:] + ("km" if flip[0] else "mk"),
                 batch[len(batch) - ranks[1] + 2:] + ("nk" if flip[1] else "kn")]
        out_term = batch + "mn"
    by_letter: dict[str, list] = {}
    for t, term in zip(node.inputs, terms):
        for letter, d in zip(term, result.dims.get(t.name) or [(size,) for size in static.get(t.name, [])]):
            by_letter.setdefault(letter, []).append(d)
    for letter, dims in by_letter.items():
        symbolic = [d for d in dims if any(isinstance(f, Atom) for f in d)]
        if symbolic and any(d not in symbolic and value(d) != 1 for d in dims):
            _pin(result, [f for d in symbolic for f in d if isinstance(f, Atom)], node,
                 "meets a fixed size" if letter in out_term else "counts it as features")
    _set(result, outs[:1], [next((d for d in by_letter.get(letter, []) if any(isinstance(f, Atom) for f in d)),
                                 (size,)) for letter, size in zip(out_term, static[outs[0].name])])


def _unknown(node, result: SymbolicDims, static, outs) -> None:
    """An op not modelled: every output dim is an atom of its own, following all freed dims it read."""
    sources = frozenset(s for t in node.inputs if t.name in result.dims for d in result.dims[t.name]
                        for f in d if isinstance(f, Atom) for s in f.sources)
    for t in outs:
        result.dims[t.name] = [(Atom(t.name, i, d, sources),) for i, d in enumerate(static[t.name])]


def _reduce(node, result: SymbolicDims, static, outs) -> None:
    x = node.inputs[0]
    rank = len(static[x.name])
    if node.op.startswith("Global"):
        reduced = set(range(2, rank))
    elif node.op in ("ArgMax", "ArgMin"):
        reduced = {node.attrs.get("axis", 0) % rank}
    else:
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1].name:
            axes = constant_value(node.inputs[1])
        reduced = {int(a) % rank for a in np.ravel(axes)} if axes is not None else set(range(rank))
    keep = node.attrs.get("keepdims", 1) or node.op.startswith("Global")
    dims = [(1,) if i in reduced else d for i, d in enumerate(result.dims[x.name]) if keep or i not in reduced]
    _set(result, outs[:1], dims)

