"""resize5d-to-resize4d: a Resize over 3+ spatial axes -> 4-D Resizes of one or two spatial axes each (exact).

Identity: nearest, linear and cubic interpolation (every coordinate_transformation_mode, cubic_coeff_a,
exclude_outside, antialias, tf_crop_and_resize with its extrapolation value) are products of 1-D
interpolations, one per axis; onnx's reference Resize computes them exactly that way, one axis at a
time. So resizing (D, H, W) equals resizing D, then (H, W), each with the same per-axis scale (or
size), coordinate mode and roi. Every stage is a 4-D Resize on a view: a single axis a as
(prod(dims before a-1), L_{a-1}, L_a, prod(dims after a)) with scale 1 on the last axis (interpolating
at integer coordinates with scale 1 returns the samples unchanged, in every mode), the last two
spatial axes as (prod(dims before them but one), that one, H, W). Keeping a real axis in the view's
channel position, not 1, is what makes onnxruntime's 4-D kernels fast (2x on trilinear). Only Reshapes join the stages (no Transpose), their
targets come from Shape where sizes are symbolic, and every tensor of the chain has rank 4. Stages
run in the order that keeps the intermediate smallest (up-sampling: the fewest-scaled first).
keep_aspect_ratio_policy resolves to one scale when the input sizes are static.
onnxruntime quirk: it returns a Resize whose output shape equals its input shape unchanged, whatever
the scales (against the spec and its own 5-D path), so a stage whose scale keeps every length (1 < s <
1 + 1/L) would compute something else on onnxruntime than the spec says; with static sizes such a
split is refused, with symbolic sizes verification finds it at the sizes it tries.
Preconditions (each a Skip with its reason): batch and channel axes not resized; roi constant for
tf_crop_and_resize; keep_aspect_ratio_policy only with static sizes and when no size rounds up; no
stage that keeps its lengths while the whole Resize does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder, constant_value, known_dims, product
from onnxport.passes._recipes import RESIZE_ROLES, recipe
from onnxport.passes._registry import Pass, RankBudget, Skip, register
from onnxport.passes._resize import INTERPOLATION, ResizeSpec, resize_spec
from onnxport.passes import conditions

NAME = "resize5d-to-resize4d"
OPSET_ATTRS = {"antialias": 18}          # attributes that only exist from this opset on


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    spec: ResizeSpec
    rank: int


def match(graph: gs.Graph, node: gs.Node, settings: RankBudget):
    x = node.inputs[0]
    if x.shape is None or len(x.shape) < 5:
        return None
    rank = len(x.shape)
    if settings.max_rank is not None and settings.max_rank < 4:
        return settings.out_of_budget(f"Resize '{node.name}': --max-rank {settings.max_rank} is below the rank 4 "
                                      f"that a Resize of two spatial axes needs")
    spec = resize_spec(node, rank)
    if isinstance(spec, str):
        return Skip(spec)
    if (spec.scales is not None and any(s != 1 for s in spec.scales[:2])) or \
            (spec.sizes is not None and any(s is not None and s != d for s, d in zip(spec.sizes[:2], x.shape[:2]))):
        return Skip("it resizes the batch or channel axis")
    computed = spec.scales_tensor if spec.scales_tensor is not None else spec.sizes_tensor
    if computed is not None and min(spec.axes) < 2 and not settings.relowering \
            and not _keeps_batch_and_channels(computed, x):
        return Skip("its computed scales/sizes may resize the batch or channel axis")
    m = Match((node,), x, node.outputs[0], spec, rank)
    still = _length_keeping_stage(m)
    if still:
        return Skip(still)
    return m


def _length_keeping_stage(m: Match) -> str:
    """onnxruntime returns a Resize whose output shape equals its input shape unchanged, whatever its
    scales, where the spec (and onnx's reference) interpolate; such a stage would depend on the runtime."""
    lengths = known_dims(m.x, m.rank)
    keeps = {a: lengths[a] is not None and _static_length(m, a, Dim(lengths[a])) == lengths[a]
             for a in range(2, m.rank)}
    for group in _stages(m):
        if all(keeps[a] for a in group):
            return (f"scale {[m.spec.scales[a] for a in group] if m.spec.scales else 'given'} keeps the length of "
                    f"axis {group}; onnxruntime's 4-D Resize would copy such a stage unchanged")
    return ""


def _keeps_batch_and_channels(sizes: gs.Tensor, x: gs.Tensor) -> bool:
    """sizes = Concat(Shape(x)[0:2], ...), as PyTorch exports interpolate(size=...)."""
    concat = sizes.inputs[0] if len(sizes.inputs) == 1 else None
    if concat is None or concat.op != "Concat" or not concat.inputs:
        return False
    head = concat.inputs[0].inputs[0] if concat.inputs[0].inputs else None
    if head is not None and head.op == "Shape" and head.inputs[0] is x:
        return head.attrs.get("start", 0) == 0 and head.attrs.get("end") == 2
    if head is None or head.op != "Slice" or not head.inputs[0].inputs or head.inputs[0].inputs[0].op != "Shape" \
            or head.inputs[0].inputs[0].inputs[0] is not x:
        return False
    bounds = [constant_value(t) for t in head.inputs[1:3]]
    return all(b is not None for b in bounds) and [int(np.ravel(b)[0]) for b in bounds] == [0, 2]


def _resized(m: Match, axis: int) -> bool:
    spec = m.spec
    if spec.scales is not None:
        return spec.scales[axis] != 1 or (spec.roi is not None and (spec.roi[axis], spec.roi[m.rank + axis]) != (0, 1))
    if spec.sizes is not None:
        return spec.sizes[axis] is not None and spec.sizes[axis] != known_dims(m.x, m.rank)[axis]
    return axis in spec.axes


def _stages(m: Match) -> list[tuple[int, ...]]:
    """Axis groups, one 4-D Resize each: the last two spatial axes together, every other one alone."""
    r = m.rank
    groups = [(a,) for a in range(2, r - 2)] + [(r - 2, r - 1)]
    groups = [g for g in (tuple(a for a in g if _resized(m, a)) for g in groups) if g]
    if m.spec.scales is not None:
        groups.sort(key=lambda g: math.prod(m.spec.scales[a] for a in g))
    return groups


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> dict:
    rec = recipe(m.nodes[0], NAME, RESIZE_ROLES)
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()
    r = m.rank
    dims = [Dim(d) if d is not None else Dim(1, (a,), of=m.x) for a, d in enumerate(known_dims(m.x, r))]
    current = m.x
    for group in _stages(m):
        first, last = group[0], group[-1]
        tail = [dims[last]] if len(group) == 2 else [product(dims[first + 1:], m.x)]
        view = [product(dims[:first - 1], m.x), dims[first - 1], dims[first]] + tail
        v = b.reshape(current, m.x, view, stem="resize_view")
        slots = {a: 2 + i for i, a in enumerate(group)}          # axis -> position in the 4-D view
        current = _stage_resize(b, graph, m, v, view, slots)
        for a, pos in slots.items():
            static = _static_length(m, a, dims[a])
            dims[a] = Dim(static) if static is not None else Dim(1, (pos,), of=current)
    y = b.reshape(current, m.x, dims, stem="resized")
    y.inputs[0].outputs[0] = m.y
    return rec


def _static_length(m: Match, axis: int, before: Dim) -> int | None:
    spec = m.spec
    if spec.sizes is not None:
        return spec.sizes[axis]
    if spec.scales is not None and not before.axes and not before.extra:
        return int(math.floor(before.const * spec.scales[axis]))    # floor(n * scale), roi or not
    return None


def _stage_resize(b: GraphBuilder, graph: gs.Graph, m: Match, v: gs.Tensor, view: list[Dim], slots: dict) -> gs.Tensor:
    spec, opset = m.spec, int(graph.opset)
    attrs = {k: val for k, val in spec.attrs.items()
             if val != INTERPOLATION[k] and opset >= OPSET_ATTRS.get(k, 11)}
    if opset < 11:
        attrs = {"mode": spec.mode}
    if spec.sizes is not None or spec.sizes_tensor is not None:
        scales, sizes = None, _stage_sizes(b, m, view, slots)
    else:
        scales, sizes = _stage_scales(b, m, slots), None
    roi = None
    if spec.roi is not None:
        starts, ends = [0.0] * 4, [1.0] * 4
        for a, pos in slots.items():
            starts[pos], ends[pos] = spec.roi[a], spec.roi[m.rank + a]
        roi = b.const(np.asarray(starts + ends, np.float32), "roi")
    if opset < 11:
        inputs = [v, scales]
    else:
        empty = (lambda stem: b.const(np.zeros(0, np.float32), stem)) if opset < 13 else (lambda stem: gs.Variable.empty())
        inputs = [v, roi if roi is not None else empty("roi"), scales if scales is not None else empty("scales")]
        if sizes is not None:
            inputs.append(sizes)
    return b.op("Resize", inputs, attrs, stem="resize_stage", dtype=m.x.dtype)


def _stage_scales(b: GraphBuilder, m: Match, slots: dict) -> gs.Tensor:
    spec = m.spec
    if spec.scales is not None:
        values = [1.0] * 4
        for a, pos in slots.items():
            values[pos] = spec.scales[a]
        return b.const(np.asarray(values, np.float32), "scales")
    parts = [b.const(np.ones(2, np.float32), "ones")]
    for a in sorted(slots):
        parts.append(b.op("Gather", [spec.scales_tensor, b.ints([spec.axes.index(a)], "axis")], {"axis": 0},
                          stem="scale", dtype=np.float32))
    if len(slots) == 1:
        parts.append(b.const(np.ones(1, np.float32), "one"))
    return b.op("Concat", parts, {"axis": 0}, stem="scales", dtype=np.float32)


def _stage_sizes(b: GraphBuilder, m: Match, view: list[Dim], slots: dict) -> gs.Tensor:
    """Target sizes of a stage: the view's own sizes, the resized positions replaced by the wanted ones."""
    spec = m.spec
    wanted: list = list(view)
    for a, pos in slots.items():
        if spec.sizes is not None:
            wanted[pos] = Dim(spec.sizes[a])
        else:
            wanted[pos] = b.op("Gather", [spec.sizes_tensor, b.ints([spec.axes.index(a)], "axis")], {"axis": 0},
                               stem="size", dtype=np.int64, shape=[1])
    return b.shape_tensor(m.x, wanted, infer=False)


PASS = register(Pass(
    name=NAME,
    summary="Resize over 3+ spatial axes -> Reshape-joined 4-D Resizes of one or two axes each, exact",
    anchor_ops=("Resize", "Upsample"),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.resize_over_three_axes,),
    matches=Match,
    settings=RankBudget,
    doc=__doc__,
    min_opset=10,
))
