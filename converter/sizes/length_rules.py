"""What each op does to the length of one traced input axis, exactly, on one residue class.

The traced axis sits in one dim of each tensor it reaches, possibly merged with other dims by a Reshape
(outer * F * inner, the other factors at their reference sizes). A rule reads its node's inputs,
writes the traced factor F of its outputs (or stops following them), and returns the classes that
remain: a Conv splits a class where its floor needs it, a join keeps the part where the lengths meet,
a layer that needs at least one sample adds a bound. Integer shape vectors computed from Shape (the
arithmetic of dynamic exports) are followed element by element, so computed pads, slices, sizes and
Reshape targets are exact too.

Lengths follow onnxruntime: Conv/Pool floor((L + pads - d*(k-1) - 1)/s) + 1, with ceil_mode the
ceiling, less one when the last window would start in the end padding; ConvTranspose
s*(L-1) + op + d*(k-1) + 1 - pads; Resize floor(L * scale); Slice clamps to the axis.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.converter.sizes.residues import Affine, ResidueClass, const, plus, scaled
from onnxport.passes import (BROADCASTING, SHAPE_PRESERVING, inner_strides, place_in_view as place_in, resize_spec,
                             resolve_convtranspose as resolve, resolve_reshape_target as resolve_target, text_attr,
                             weight_shape)

INT_END = 2**31 - 1


class Stop(Exception):
    """The analysis cannot follow the axis past this node; the message says why."""


@dataclass(frozen=True)
class Place:
    """Where the traced factor sits in a tensor: dim `dim`, whose length is outer * F * inner, and
    `also` further dims of that same length (the two token axes of an attention matrix)."""

    dim: int
    outer: int = 1
    inner: int = 1
    also: tuple[int, ...] = ()
    merged_by: str = ""                  # the Reshape that coupled it with other axes

    @property
    def merged(self) -> bool:
        return self.outer * self.inner != 1

    def coupled(self, node) -> Stop:
        """Where a layer needs the axis alone but a Reshape merged it with others."""
        return Stop(f"{name(node)} (the axis is coupled with other axes there, by {self.merged_by or 'a Reshape'})")

    @property
    def dims(self) -> tuple[int, ...]:
        return (self.dim,) + self.also



def name(node: gs.Node) -> str:
    return f"{node.op} '{node.name}'"


def full(walk, cls: ResidueClass, t: gs.Tensor) -> Affine:
    """The whole length of the dim that holds the traced factor."""
    p = walk.places[t.name]
    return scaled(cls.lengths[t.name], p.outer * p.inner)


def ints(values) -> list[int]:
    return [int(v) for v in np.ravel(values)]


# ---------------------------------------------------------------- data ops


def shape_preserving(walk, node, cls):
    return walk.copy(cls, node.inputs[0], node.outputs)


def broadcasting(walk, node, cls, allow_broadcast: bool = True):
    """Inputs aligned from the right: traced dims must meet each other, a static dim must be 1 or equal."""
    rank = max(len(walk.shape(t) or []) for t in node.inputs if t.name)
    traced = [t for t in node.inputs if t.name in walk.places]
    positions = {tuple(rank - len(walk.shape(t)) + d for d in walk.places[t.name].dims) for t in traced}
    if len(positions) > 1:
        raise Stop(f"{name(node)} (the axis meets a different axis of another input)")
    dims = positions.pop()
    static = []
    for t in node.inputs:
        shape = walk.shape(t) if t.name and t.name not in walk.places else None
        for pos in dims:
            if shape is not None and pos - (rank - len(shape)) >= 0:
                static.append(shape[pos - (rank - len(shape))])
    if allow_broadcast:
        static = [d for d in static if d != 1]         # a length 1 broadcasts against any other

    def lengths(c):
        return [full(walk, c, t) for t in traced] + [const(d) for d in static]

    survivors = []
    for alive, i in _meet(cls, lengths, node, allow_broadcast):
        if i < len(traced):                  # the output has this traced input's length: its place too
            place, factor = walk.places[traced[i].name], alive.lengths[traced[i].name]
        else:
            place, factor = Place(dims[0]), const(static[i - len(traced)])
        for t in node.outputs:
            walk.set(alive, t, replace(place, dim=dims[0], also=tuple(dims[1:])), factor)
        survivors.append(alive)
    if survivors != [cls]:
        walk.restrict(f"{name(node)} meets a fixed length {static[0]}" if static and max(static) > 1 else
                      f"{name(node)} joins lengths that differ at other sizes")
    return survivors


def _meet(cls, lengths, node, allow_broadcast: bool) -> list[tuple[ResidueClass, int]]:
    """The sub-classes where all lengths are equal, or (broadcasting) where those that are not 1 are:
    (class, index of an input whose length the output has), each input size once."""
    found, seen = [], set()

    def add(c, i):
        if c is not None and c.n not in seen:
            seen.add(c.n)
            found.append((c, i))

    def all_equal(c, indices):
        for i in indices[1:]:
            if c is None:
                return None
            xs = lengths(c)
            c = c.equal(xs[indices[0]], xs[i])
        return c

    count = len(lengths(cls))
    add(all_equal(cls, list(range(count))), 0)
    if allow_broadcast and not (found and found[0][0] is cls):     # sizes the whole class does not already hold
        for i in range(count):                  # input i is 1 and broadcasts; the others still meet
            others = [j for j in range(count) if j != i]
            c = cls.equal(lengths(cls)[i], const(1))
            c = all_equal(c, others) if c is not None and others else c
            if c is not None:
                add(c, others[0] if others else i)
    return found


def concat(walk, node, cls):
    axis = node.attrs.get("axis", 0)
    rank = len(walk.shape(node.outputs[0]) or walk.shape(node.inputs[0]))
    axis %= rank
    traced = [t for t in node.inputs if t.name in walk.places]
    if any(walk.places[t.name].dim != axis for t in traced):
        if any(walk.places[t.name].dim == axis for t in traced):
            raise Stop(f"{name(node)} (joins the axis with another one)")
        return broadcasting(walk, node, cls, allow_broadcast=False)
    total = const(0)
    for t in node.inputs:
        total = plus(total, full(walk, cls, t) if t.name in walk.places else const(walk.shape(t)[axis]))
    for t in node.outputs:
        walk.set(cls, t, Place(axis), total)
    return [cls]


def _not_spatial(walk, node, cls):
    """Conv/Pool/ConvTranspose with the axis in the batch (it rides along), in a pool's channels (any
    number), in a Conv's channels (the weight fixes it): the classes; None when it is a spatial axis."""
    x = node.inputs[0]
    if x.name not in walk.places:                   # the traced input is its weight (a graph input)
        raise Stop(f"{name(node)} (its weight is a graph input: the axis is a kernel length there)")
    place = walk.places[x.name]
    if place.dim == 0 or (place.dim == 1 and node.op not in ("Conv", "ConvTranspose")):
        return walk.copy(cls, x, node.outputs[:1])
    if place.dim == 1:
        return walk.channels(cls, node, x)
    if place.merged:
        raise place.coupled(node)
    return None


def _emit(walk, node, c, place, out, rem, survivors) -> None:
    """One sub-class's result: its output length, at least 1, and whether a border sample was dropped."""
    c.require(out, name(node))
    c.lossy = c.lossy or (name(node) if rem else "")
    walk.set(c, node.outputs[0], place, out)
    survivors.append(c)


def windowed(walk, node, cls):
    """Conv, MaxPool, AveragePool, LpPool over the traced axis."""
    other = _not_spatial(walk, node, cls)
    if other is not None:
        return other
    x = node.inputs[0]
    place = walk.places[x.name]
    spatial = place.dim - 2
    kernel = node.attrs.get("kernel_shape") or (weight_shape(node.inputs[1]) or [None] * (spatial + 3))[2:]
    n = len(kernel)
    if spatial >= n or kernel[spatial] is None:
        raise Stop(f"{name(node)} (kernel of unknown shape)")
    k, s = kernel[spatial], list(node.attrs.get("strides", [1] * n))[spatial]
    d = list(node.attrs.get("dilations", [1] * n))[spatial]
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    length = cls.lengths[x.name]
    survivors = []
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):           # out = ceil(L / s)
        for c, q, rem in cls.floor_div(plus(length, const(s - 1)), s):
            _emit(walk, node, c, place, q, (rem + 1) % s, survivors)
        return survivors
    pads = [0] * (2 * n) if auto_pad == "VALID" else list(node.attrs.get("pads", [0] * (2 * n)))
    begin, end = pads[spatial], pads[n + spatial]
    numerator = plus(length, const(begin + end - d * (k - 1) - 1))
    ceil_mode = node.attrs.get("ceil_mode", 0) and node.op != "Conv"
    cls.require(numerator, name(node), at_least=0)
    for c, q, rem in cls.floor_div(numerator, s):
        out = plus(q, const(1))
        if ceil_mode and rem:
            out = plus(out, const(1))
            # onnxruntime drops a last window that would start in the end padding; on a class the
            # condition (out-1)*s >= L + begin has the same truth at every size
            gap = plus(scaled(plus(out, const(-1)), s), scaled(plus(c.lengths[x.name], const(begin)), -1))
            if gap[0] == 0 and gap[1] >= 0:
                out = plus(out, const(-1))
            elif gap[0] != 0:
                raise Stop(f"{name(node)} (ceil_mode with a last window that only sometimes fits)")
        _emit(walk, node, c, place, out, rem, survivors)
    return survivors


def conv_transpose(walk, node, cls):
    other = _not_spatial(walk, node, cls)
    if other is not None:
        return other
    x = node.inputs[0]
    place = walk.places[x.name]
    w_shape = weight_shape(node.inputs[1])
    if w_shape is None:
        raise Stop(f"{name(node)} (weight of unknown shape)")
    spatial = place.dim - 2
    fixed = node.attrs.get("output_shape")
    if fixed:
        out = const(list(fixed)[-(len(w_shape) - 2) + spatial])
    else:
        axis = resolve(node.name, node.attrs, w_shape, [None] * (len(w_shape) - 2)).axes[spatial]
        out = plus(scaled(cls.lengths[x.name], axis.stride), const(axis.length_offset))
    cls.require(out, name(node))
    walk.set(cls, node.outputs[0], place, out)
    return [cls]


def resize(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    rank = len(walk.shape(x))
    computed = [t for t in node.inputs[1:] if t.name and t.name in cls.values]
    if computed:
        sizes = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3].name else None
        if sizes is None or sizes.name not in cls.values or node.attrs.get("axes"):
            raise Stop(f"{name(node)} (computed scales)")
        out = cls.values[sizes.name][place.dim]
        if out is None:
            raise Stop(f"{name(node)} (sizes computed by ops it does not follow)")
        if out[0] == 0 and out[1].denominator == 1:
            out = walk.image_size(cls, place, int(out[1]), rank) or out
        walk.set(cls, node.outputs[0], Place(place.dim), out)
        return [cls]
    spec = resize_spec(node, rank)
    if isinstance(spec, str):
        raise Stop(f"{name(node)} ({spec})")
    if spec.sizes is None and spec.scales is None:
        raise Stop(f"{name(node)} (its scales or sizes are a graph input or computed by ops it does not follow)")
    if spec.sizes is not None:
        size = spec.sizes[place.dim]
        if size is None:
            return walk.copy(cls, x, node.outputs)
        walk.set(cls, node.outputs[0], Place(place.dim), walk.image_size(cls, place, size, rank) or const(size))
        return [cls]
    scale = Fraction(float(spec.scales[place.dim])).limit_denominator(64)
    if scale == 1:
        return walk.copy(cls, x, node.outputs)
    if place.merged:
        raise place.coupled(node)
    survivors = []
    for c, out, rem in cls.floor_div(scaled(cls.lengths[x.name], scale.numerator), scale.denominator):
        _emit(walk, node, c, place, out, rem, survivors)
    return survivors


def pad(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    rank = len(walk.shape(x))
    if len(node.inputs) > 1:
        pads = walk.vector(cls, node.inputs[1])
        axes_t = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3].name else None
        axes = [a % rank for a in ints(walk.constant(axes_t))] if axes_t is not None else list(range(rank))
    else:
        pads, axes = [const(p) for p in node.attrs.get("pads", [])], list(range(rank))
    if pads is None or (len(node.inputs) > 3 and node.inputs[3].name and walk.constant(node.inputs[3]) is None):
        raise Stop(f"{name(node)} (pads computed by ops it does not follow)")
    if place.dim not in axes:
        return walk.copy(cls, x, node.outputs)
    i = axes.index(place.dim)
    begin, end = pads[i], pads[len(axes) + i]
    if begin is None or end is None:
        raise Stop(f"{name(node)} (pads computed by ops it does not follow)")
    out = plus(plus(full(walk, cls, x), begin), end)
    if place.merged and (begin, end) != (const(0), const(0)):
        raise place.coupled(node)
    cls.require(out, name(node))
    walk.set(cls, node.outputs[0], place,
             scaled(out, Fraction(1, place.outer * place.inner)))
    return [cls]


def slice_(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    rank = len(walk.shape(x))
    if len(node.inputs) < 3:          # opset < 10: attributes
        starts, ends = [const(v) for v in node.attrs["starts"]], [const(v) for v in node.attrs["ends"]]
        axes, steps = list(node.attrs.get("axes", range(len(starts)))), [1] * len(starts)
    else:
        starts, ends = walk.vector(cls, node.inputs[1]), walk.vector(cls, node.inputs[2])
        axes_t = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3].name else None
        steps_t = node.inputs[4] if len(node.inputs) > 4 and node.inputs[4].name else None
        axes = ints(walk.constant(axes_t)) if axes_t is not None else list(range(len(starts or [])))
        steps = ints(walk.constant(steps_t)) if steps_t is not None else [1] * len(axes)
        if starts is None or ends is None or (axes_t is not None and walk.constant(axes_t) is None) \
                or (steps_t is not None and walk.constant(steps_t) is None):
            raise Stop(f"{name(node)} (bounds computed by ops it does not follow)")
    axes = [a % rank for a in axes]
    if place.dim not in axes:
        return walk.copy(cls, x, node.outputs)
    if place.merged:
        raise place.coupled(node)
    i = axes.index(place.dim)
    step, length = steps[i], cls.lengths[x.name]
    if step < 1 or starts[i] is None or ends[i] is None:
        raise Stop(f"{name(node)} (a negative step, or bounds it does not follow)")
    begin = _bound(cls, starts[i], length, node)
    end = _bound(cls, ends[i], length, node)
    extent = plus(end, scaled(begin, -1))
    cls.require(extent, name(node))
    survivors = []
    for c, out, _ in cls.floor_div(plus(extent, const(step - 1)), step):
        walk.set(c, node.outputs[0], place, out)
        survivors.append(c)
    return survivors


def _bound(cls, value: Affine, length: Affine, node) -> Affine:
    """A Slice bound as a position in [0, L]: from the end if negative, the end if past it."""
    if value[0] == 0 and value[1] >= INT_END:
        return length
    if value[0] == 0 and value[1] < 0:
        position = plus(length, value)
        cls.require(position, name(node), at_least=0)
        return position
    cls.require(plus(length, scaled(value, -1)), name(node), at_least=0)      # not clamped
    return value


def transpose(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    perm = list(node.attrs.get("perm", range(len(walk.shape(x)))[::-1]))
    moved = [perm.index(d) for d in place.dims]
    walk.set(cls, node.outputs[0], replace(place, dim=moved[0], also=tuple(moved[1:])), cls.lengths[x.name])
    return [cls]


def reshape(walk, node, cls):
    x = node.inputs[0]
    shape_in, shape_out = walk.shape(x), walk.shape(node.outputs[0])
    if node.op == "Flatten":
        axis = node.attrs.get("axis", 1) % (len(shape_in) or 1)
        target = [int(np.prod(shape_in[:axis])), int(np.prod(shape_in[axis:]))]
    else:
        constant = walk.constant(node.inputs[1])
        target = resolve_target(ints(constant), shape_in, node.attrs.get("allowzero", 0)) if constant is not None \
            else shape_out
    if target is None or any(d is None for d in target) or shape_in is None:
        raise Stop(f"{name(node)} (a target of unknown size)")
    return regroup(walk, node, cls, x, shape_in, target)


def regroup(walk, node, cls, x, shape_in, target):
    """Reshape, Flatten, Squeeze, Unsqueeze: the traced factor goes where the element order puts it."""
    place = walk.places[x.name]
    value = walk.reference_factor(x)             # where it goes is decided at the reference, for every class
    inner = place.inner * inner_strides(shape_in)[place.dim]
    j = place_in(inner, value, target)
    if j is None:
        raise Stop(f"{name(node)} (it splits the axis across dims)")
    span = inner_strides(target)[j] * target[j]
    outer, inner = span // (inner * value), inner // inner_strides(target)[j]
    new = Place(j, outer, inner, merged_by=name(node) if outer * inner != 1 else "")
    factor = cls.lengths[x.name]
    computed = cls.values.get(node.inputs[1].name) if node.op == "Reshape" else None
    if computed is not None and computed[j] is not None and computed[j][0] != 0:
        new, factor = Place(j), computed[j]               # a target computed from Shape: exact as it is
    walk.set(cls, node.outputs[0], new, factor)
    return [cls]


def squeeze(walk, node, cls):
    x = node.inputs[0]
    shape_in, shape_out = walk.shape(x), walk.shape(node.outputs[0])
    if shape_in is None or shape_out is None:
        raise Stop(f"{name(node)} (unknown shapes)")
    return regroup(walk, node, cls, x, shape_in, list(shape_out))


def split(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    axis = node.attrs.get("axis", 0) % len(walk.shape(x))
    if axis != place.dim:
        return walk.copy(cls, x, node.outputs)
    explicit = len(node.inputs) > 1 and node.inputs[1].name or node.attrs.get("split")
    if explicit or place.merged:
        raise Stop(f"{name(node)} (fixed parts of the axis)")
    parts = len(node.outputs)
    survivors = []
    for c, out, rem in cls.floor_div(cls.lengths[x.name], parts):
        if rem:                           # onnxruntime wants equal parts without a split input
            continue
        c.require(out, name(node))
        for t in node.outputs:
            walk.set(c, t, place, out)
        survivors.append(c)
    if survivors != [cls]:
        walk.restrict(f"{name(node)} splits the axis into equal parts only at some sizes")
    return survivors


def depth_space(walk, node, cls):
    x = node.inputs[0]
    place = walk.places[x.name]
    if place.dim == 0:
        return walk.copy(cls, x, node.outputs)
    if place.dim == 1 or place.merged:
        raise Stop(f"{name(node)} (on channels)")
    block = node.attrs["blocksize"]
    if node.op == "DepthToSpace":
        walk.set(cls, node.outputs[0], place, scaled(cls.lengths[x.name], block))
        return [cls]
    survivors = []
    for c, out, rem in cls.floor_div(cls.lengths[x.name], block):
        if not rem:
            c.require(out, name(node))
            walk.set(c, node.outputs[0], place, out)
            survivors.append(c)
    return survivors


def reduce_(walk, node, cls):
    """Reductions and global pooling: each traced dim either survives as it is or is reduced to 1."""
    x = node.inputs[0]
    place = walk.places[x.name]
    rank = len(walk.shape(x))
    if node.op.startswith("Global"):
        reduced = list(range(2, rank))
    else:
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1].name:
            value = walk.constant(node.inputs[1])
            if value is None:
                raise Stop(f"{name(node)} (computed axes)")
            axes = ints(value)
        reduced = [a % rank for a in axes] if axes is not None else \
            ([node.attrs.get("axis", 0) % rank] if node.op in ("ArgMax", "ArgMin") else list(range(rank)))
    keep = node.attrs.get("keepdims", 1) or node.op.startswith("Global")
    kept = [d if keep else d - sum(1 for a in reduced if a < d) for d in place.dims if d not in reduced]
    if kept:
        walk.set(cls, node.outputs[0], replace(place, dim=kept[0], also=tuple(kept[1:])), cls.lengths[x.name])
    return [cls]


def matmul(walk, node, cls):
    """A traced contraction dim meets a weight's fixed size (a linear layer counts its features); two
    traced operands contract equal lengths (attention)."""
    a, b = node.inputs[0], node.inputs[1]
    if node.op == "Gemm":
        trans_a = node.attrs.get("transA", 0)
        if a.name in walk.places and walk.places[a.name].dim == (0 if trans_a else 1):
            return walk.features(cls, node, a)
        if a.name in walk.places:
            walk.set(cls, node.outputs[0], Place(0), full(walk, cls, a))
            return [cls]
        raise Stop(f"{name(node)} (the axis reaches a weight)")
    rank_a, rank_b = len(walk.shape(a)), len(walk.shape(b))
    rank_out = len(walk.shape(node.outputs[0]))
    dims_a = walk.places[a.name].dims if a.name in walk.places else ()
    dims_b = walk.places[b.name].dims if b.name in walk.places else ()
    if (rank_a - 1 in dims_a) != (rank_b - 2 in dims_b):
        return walk.features(cls, node, a if rank_a - 1 in dims_a else b)
    out = [rank_out - rank_a + d for d in dims_a if d != rank_a - 1] + \
          [rank_out - 1 if d == rank_b - 1 else rank_out - rank_b + d for d in dims_b if d != rank_b - 2]
    traced = a if dims_a else b
    place = walk.places[traced.name]
    if dims_a and dims_b and (place.merged or walk.places[b.name].merged):
        raise Stop(f"{name(node)} (a merged axis meets another)")
    if out:
        out = sorted(set(out))
        walk.set(cls, node.outputs[0], replace(place, dim=out[0], also=tuple(out[1:])), cls.lengths[traced.name])
    return [cls]


def gather(walk, node, cls):
    """Gather on another axis with constant indices: traced dims after it move by the indices' rank - 1.
    Traced indices into an untraced table (a codebook lookup: ArgMin then Gather): the output holds the
    indices' dims from `axis` on, so the traced dims move there."""
    x, indices = node.inputs[0], walk.constant(node.inputs[1])
    axis = node.attrs.get("axis", 0) % len(walk.shape(x))
    if x.name not in walk.places:
        place = walk.places[node.inputs[1].name]
        moved = [axis + d for d in place.dims]
        walk.set(cls, node.outputs[0], replace(place, dim=moved[0], also=tuple(moved[1:])),
                 cls.lengths[node.inputs[1].name])
        return [cls]
    place = walk.places[x.name]
    if indices is None or axis in place.dims or node.inputs[1].name in walk.places:
        raise Stop(f"{name(node)} (gathers along the axis)")
    moved = [d if d < axis else d + np.ndim(indices) - 1 for d in place.dims]
    walk.set(cls, node.outputs[0], replace(place, dim=moved[0], also=tuple(moved[1:])), cls.lengths[x.name])
    return [cls]


def einsum(walk, node, cls):
    """The traced dims' letters: kept where the output names them, equal wherever an operand names them."""
    equation = text_attr(node, "equation", "").replace(" ", "")
    if "..." in equation or "->" not in equation:
        raise Stop(f"{name(node)} (an implicit or ellipsis equation)")
    operands, result = equation.split("->")
    terms = operands.split(",")
    traced = [t for t in node.inputs if t.name in walk.places]
    structure = {(walk.places[t.name].outer, walk.places[t.name].inner) for t in traced}
    if len(structure) > 1:
        raise Stop(f"{name(node)} (the axis is merged differently in its operands)")
    letters = {term[d] for t, term in zip(node.inputs, terms) if t.name in walk.places for d in walk.places[t.name].dims}
    length, before = full(walk, cls, traced[0]), cls
    for t, term in zip(node.inputs, terms):
        for letter in letters & set(term):
            if t.name not in walk.places and cls is not None:
                cls = cls.equal(length, const(walk.shape(t)[term.index(letter)]))
            elif t.name in walk.places and term.index(letter) not in walk.places[t.name].dims:
                raise Stop(f"{name(node)} (a traced letter on an untraced dim)")
    if cls is not before:
        walk.restrict(f"{name(node)} contracts lengths that differ at other sizes")
    if cls is None:
        return []
    out = sorted(result.index(letter) for letter in letters if letter in result)
    if out:
        outer, inner = structure.pop()
        walk.set(cls, node.outputs[0], Place(out[0], outer, inner, tuple(out[1:])), cls.lengths[traced[0].name])
    return [cls]


def layer_norm(walk, node, cls):
    x = node.inputs[0]
    rank = len(walk.shape(x))
    axis = node.attrs.get("axis", -1) % rank
    if max(walk.places[x.name].dims) >= axis:
        return walk.features(cls, node, x)
    return walk.copy(cls, x, node.outputs[:1])


def shape_of(walk, node, cls):
    x = node.inputs[0]
    shape = walk.shape(x)
    if shape is None:
        raise Stop(f"{name(node)} (of a tensor of unknown shape)")
    rank = len(shape)
    start = node.attrs.get("start", 0) % (rank + 1) if node.attrs.get("start", 0) < 0 else node.attrs.get("start", 0)
    end = node.attrs.get("end", rank)
    end = end % (rank + 1) if end < 0 else min(end, rank)
    place = walk.places.get(x.name)
    values = tuple(full(walk, cls, x) if place is not None and i in place.dims else const(shape[i])
                   for i in range(start, end))
    walk.set_values(cls, node.outputs[0], values)
    return [cls]


def gather_values(walk, node, cls):
    values, indices = walk.vector(cls, node.inputs[0]), walk.constant(node.inputs[1])
    if values is None or indices is None or node.attrs.get("axis", 0) != 0:
        raise Stop(f"{name(node)} (gathers from data it does not follow)")
    walk.set_values(cls, node.outputs[0], tuple(values[i] for i in ints(indices)))
    return [cls]


def slice_values(walk, node, cls):
    values = walk.vector(cls, node.inputs[0])
    bounds = [walk.constant(t) if t.name else None for t in node.inputs[1:5]] + [None] * 4
    if values is None or bounds[0] is None or bounds[1] is None:
        raise Stop(f"{name(node)} (slices shape values with computed bounds)")
    step = int(np.ravel(bounds[3])[0]) if bounds[3] is not None else 1
    start, end = int(np.ravel(bounds[0])[0]), int(np.ravel(bounds[1])[0])
    walk.set_values(cls, node.outputs[0], tuple(values[slice(start, min(end, INT_END), step)]))
    return [cls]


def concat_values(walk, node, cls):
    parts = [walk.vector(cls, t) for t in node.inputs]
    if any(p is None for p in parts):
        raise Stop(f"{name(node)} (joins shape values it does not follow)")
    walk.set_values(cls, node.outputs[0], tuple(v for p in parts for v in p))
    return [cls]


def same_values(walk, node, cls):
    """Cast, Identity, Squeeze, Unsqueeze, Reshape of a shape vector: the same elements."""
    values = walk.vector(cls, node.inputs[0])
    if values is None:
        raise Stop(f"{name(node)} (shape values it does not follow)")
    walk.set_values(cls, node.outputs[0], values)
    return [cls]


def split_values(walk, node, cls):
    values = walk.vector(cls, node.inputs[0])
    sizes = walk.constant(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1].name else \
        node.attrs.get("split", [len(values) // len(node.outputs)] * len(node.outputs))
    start = 0
    for t, size in zip(node.outputs, ints(sizes)):
        walk.set_values(cls, t, values[start:start + size])
        start += size
    return [cls]


def arithmetic(walk, node, cls):
    """Elementwise integer/float arithmetic on shape values (a length-1 vector broadcasts). Results so
    far ride in the class's values, so a refinement for a later element rewrites them too."""
    if any(walk.vector(cls, t) is None for t in node.inputs):
        raise Stop(f"{name(node)} (shape arithmetic on values it does not follow)")
    width = max(len(walk.vector(cls, t)) for t in node.inputs)
    integral = np.issubdtype(np.dtype(node.outputs[0].dtype or np.int64), np.integer)
    out = node.outputs[0]
    cls.values[out.name] = (None,) * width
    classes = [cls]
    for i in range(width):
        step = []
        for c in classes:
            column = [v[0] if len(v) == 1 else v[i] for v in (walk.vector(c, t) for t in node.inputs)]
            for c2, result in _elementwise(node, c, column, integral):
                c2.values[out.name] = c2.values[out.name][:i] + (result,) + c2.values[out.name][i + 1:]
                step.append(c2)
        classes = step
    walk.valued.add(out.name)
    return classes


def _elementwise(node, cls, xs: list, integral: bool):
    op = node.op
    if any(x is None for x in xs):
        return [(cls, None)]
    if op == "Neg":
        return [(cls, scaled(xs[0], -1))]
    if op in ("Floor", "Ceil"):
        x = xs[0] if op == "Floor" else scaled(xs[0], -1)
        return [(c, q if op == "Floor" else scaled(q, -1)) for c, q, _ in cls.floor_div(x, 1)]
    a, b = xs
    if op == "Add":
        return [(cls, plus(a, b))]
    if op == "Sub":
        return [(cls, plus(a, scaled(b, -1)))]
    if op == "Mul":
        if a[0] and b[0]:
            raise Stop(f"{name(node)} (a product of two lengths that follow the axis)")
        k, x = (a[1], b) if a[0] == 0 else (b[1], a)
        return [(cls, scaled(x, k))]
    if op == "Div":
        if b[0] != 0 or b[1] == 0:
            raise Stop(f"{name(node)} (division by a length)")
        if not integral:
            return [(cls, scaled(a, 1 / b[1]))]
        if b[1] < 0:
            raise Stop(f"{name(node)} (division by a negative number)")
        return [(c, q) for c, q, _ in cls.floor_div(a, int(b[1]))]     # lengths are >= 0: floor == trunc
    if op == "Mod":                     # padding to a multiple (a window, a patch): the remainder per sub-class
        if b[0] != 0 or b[1] <= 0 or not integral or node.attrs.get("fmod", 0):
            raise Stop(f"{name(node)} (a remainder other than of a length by a positive constant)")
        return [(c, const(r)) for c, _, r in cls.floor_div(a, int(b[1]))]
    if op in ("Max", "Min"):
        if a[0] != b[0]:
            raise Stop(f"{name(node)} (max/min of lengths that grow differently)")
        bigger = a if a[1] >= b[1] else b
        return [(cls, bigger if op == "Max" else (b if bigger is a else a))]
    raise Stop(f"{name(node)} (shape arithmetic it does not follow)")


def make_data(walk, node, cls):
    """Expand / ConstantOfShape with a computed shape: a tensor whose dim is a traced length."""
    shape_t = node.inputs[1] if node.op == "Expand" else node.inputs[0]
    values = walk.vector(cls, shape_t)
    if values is None:
        raise Stop(f"{name(node)} (a shape it does not follow)")
    traced = [i for i, v in enumerate(values) if v is not None and v[0] != 0]
    if node.op == "Expand" and node.inputs[0].name in walk.places:
        return _expand_traced(walk, node, cls, values)
    if len(traced) != 1:
        raise Stop(f"{name(node)} (a shape with {len(traced)} traced dims)")
    rank_out = len(walk.shape(node.outputs[0]) or values)
    i = traced[0] + rank_out - len(values)
    walk.set(cls, node.outputs[0], Place(i), values[traced[0]])
    return [cls]


def _expand_traced(walk, node, cls, values):
    """Expand of the traced tensor by a shape vector: a 1 keeps the traced length, a constant must equal
    it (or broadcast a traced length of 1 to it), a traced value must meet it."""
    x = node.inputs[0]
    place, shape = walk.places[x.name], walk.shape(x)
    offset = max(len(values) - len(shape), 0)
    length = full(walk, cls, x)
    for d in place.dims:
        i = d + offset - (max(len(shape) - len(values), 0))
        v = values[i] if 0 <= i < len(values) else const(1)
        if v is None:
            raise Stop(f"{name(node)} (a shape it does not follow)")
        if v == const(1):
            continue
        met = cls.equal(length, v)
        if met is not cls:
            walk.restrict(f"{name(node)} expands to a length that differs at other sizes")
        if met is None:
            return []
        cls = met
    walk.set(cls, node.outputs[0], replace(place, dim=place.dim + offset, also=tuple(a + offset for a in place.also)),
             cls.lengths[x.name])
    return [cls]


def tile(walk, node, cls):
    """Tile by constant repeats: a traced dim repeated r times holds r copies of itself (outer * r)."""
    x = node.inputs[0]
    repeats = walk.constant(node.inputs[1])
    if repeats is None:
        raise Stop(f"{name(node)} (repeats it does not follow)")
    repeats = ints(repeats)
    place = walk.places[x.name]
    if place.also and any(repeats[d] != 1 for d in place.dims):
        raise Stop(f"{name(node)} (repeats an axis that sits in several dims)")
    r = repeats[place.dim]
    new = replace(place, outer=place.outer * r, merged_by=place.merged_by or (name(node) if r != 1 else ""))
    walk.set(cls, node.outputs[0], new, cls.lengths[x.name])
    return [cls]


# rules that handle an axis sitting in several dims (Place.also); the others refuse it
MULTI_DIM = frozenset({"shape_preserving", "broadcasting", "transpose", "reduce_", "matmul", "gather", "einsum",
                       "layer_norm"})

DATA_RULES = {
    **{op: shape_preserving for op in SHAPE_PRESERVING},
    **{op: broadcasting for op in BROADCASTING},
    "Softmax": shape_preserving, "LogSoftmax": shape_preserving, "Hardmax": shape_preserving,
    "LayerNormalization": layer_norm, "GroupNormalization": shape_preserving,
    "Concat": concat,
    "Conv": windowed, "MaxPool": windowed, "AveragePool": windowed, "LpPool": windowed,
    "ConvTranspose": conv_transpose,
    "Resize": resize, "Upsample": resize,
    "Pad": pad, "Slice": slice_, "Transpose": transpose,
    "Reshape": reshape, "Flatten": reshape, "Squeeze": squeeze, "Unsqueeze": squeeze,
    "Split": split, "DepthToSpace": depth_space, "SpaceToDepth": depth_space,
    "GlobalAveragePool": reduce_, "GlobalMaxPool": reduce_, "GlobalLpPool": reduce_,
    "ReduceMean": reduce_, "ReduceSum": reduce_, "ReduceMax": reduce_, "ReduceMin": reduce_, "ReduceProd": reduce_,
    "ReduceL1": reduce_, "ReduceL2": reduce_, "ReduceLogSumExp": reduce_, "ReduceSumSquare": reduce_,
    "ArgMax": reduce_, "ArgMin": reduce_,
    "MatMul": matmul, "Gemm": matmul, "Gather": gather, "Einsum": einsum,
    "Expand": make_data, "Tile": tile,
}

VALUE_RULES = {
    "Shape": shape_of, "Gather": gather_values, "Slice": slice_values, "Concat": concat_values,
    "Cast": same_values, "Identity": same_values, "Squeeze": same_values, "Unsqueeze": same_values,
    "Reshape": same_values, "Split": split_values,
    "Add": arithmetic, "Sub": arithmetic, "Mul": arithmetic, "Div": arithmetic, "Max": arithmetic, "Min": arithmetic,
    "Neg": arithmetic, "Floor": arithmetic, "Ceil": arithmetic, "Mod": arithmetic,
    "ConstantOfShape": make_data,
}
