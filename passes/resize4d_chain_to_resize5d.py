"""resize4d-chain-to-resize5d: Reshape/Transpose-joined 4-D Resizes that resize a 5-D tensor -> one Resize.

Identity: the chain's Reshapes and Transposes only regroup and reorder the input's axes, and each 4-D
Resize interpolates some of them one-dimensionally; when every resized position holds exactly one of
the input's axes, each axis is resized at most once with the same interpolation attributes, and the
chain ends with the axes back in their order, the chain is the separable form of one Resize with those
per-axis scales (see resize5d-to-resize4d). Axes are followed through the chain symbolically: each
position of a tensor is a run of the input's axes (lengths known), a Reshape must split and merge
along those runs, a Transpose permutes them, a Resize may scale a position only if it is one axis.
This folds a hand-made chain (the seed's Flatten/Resize/Reshape/Transpose workaround, and variants
with other axis pairs) and onnxport's own chain. Views may be spelled Reshape (constant or computed
from Shape), Flatten, Squeeze or Unsqueeze; a symbolic batch is followed as a placeholder length (a
prime no constant target holds), against which computed targets are evaluated.
Preconditions (each a Skip or no match): static sizes along the chain but for the batch; single-consumer
links; scales constant; no tf_crop_and_resize; batch and channels not resized; no stage that keeps its
lengths while scaled (onnxruntime copies those, see resize5d-to-resize4d).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._conv_patterns import single_consumer
from onnxport.passes._graph import GraphBuilder, constant_value, known_dims
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes._resize import INTERPOLATION, resize_spec
from onnxport.passes._shape_eval import evaluate

VIEWS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
JOINS = VIEWS + ("Transpose", "Resize")
BATCH = 2**31 - 1               # a symbolic batch's stand-in: prime, so no constant target holds it


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    scales: tuple[float, ...]
    attrs: dict


class _NotAChain(Exception):
    """The walk left the pattern; the message says where."""


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    x = node.inputs[0]
    if x.shape is None or len(x.shape) < 5:
        return None
    lengths = known_dims(x, len(x.shape))
    lengths[0] = BATCH if lengths[0] is None else lengths[0]
    if any(n is None for n in lengths) or (x.inputs and x.inputs[0].op in JOINS):
        return None                        # symbolic sizes, or not the start of a chain
    try:
        found = _walk(graph, node, lengths)
    except _NotAChain as e:
        return Skip(f"not a separable resize chain: {e}") if "Resize" in str(e) else None
    return found


def _walk(graph: gs.Graph, first: gs.Node, lengths: list[int]) -> Match:
    """Follow the chain as far as it goes; the longest prefix that ends with the axes back in order."""
    rank = len(lengths)
    groups = [[a] for a in range(rank)]            # per position: the input axes it holds, major first
    sizes = list(lengths)                          # current length of each input axis
    scales = [1.0] * rank
    attrs, nodes, node, best = None, [], first, None
    known = {first.inputs[0].name: tuple(lengths)}       # shapes along the chain, for computed targets
    while True:
        nodes.append(node)
        try:
            if node.op == "Transpose":
                perm = node.attrs.get("perm", list(reversed(range(len(groups)))))
                groups = [groups[p] for p in perm]
            elif node.op in VIEWS:
                groups = _regroup(groups, sizes, _view_target(graph, node, groups, sizes, known))
            else:
                attrs = _resize(node, groups, sizes, scales, attrs)
        except _NotAChain:
            if best is not None:
                break
            raise
        out = node.outputs[0]
        known[out.name] = tuple(math.prod(sizes[a] for a in g) for g in groups)
        if groups == [[a] for a in range(rank)] and attrs is not None and len(nodes) > 1:
            best = Match(tuple(nodes), first.inputs[0], out, tuple(scales), attrs)
        if not single_consumer(out, graph) or out.outputs[0].op not in JOINS:
            break
        node = out.outputs[0]
    if best is None:
        raise _NotAChain("the chain stops before the axes are back in order")
    return best


def _view_target(graph: gs.Graph, node: gs.Node, groups, sizes, known: dict) -> list[int] | None:
    """The dims a view produces from the current ones (0 and -1 left for _regroup to resolve)."""
    dims = [math.prod(sizes[a] for a in g) for g in groups]
    if node.op == "Flatten":
        axis = node.attrs.get("axis", 1) % (len(dims) + 1)
        return [math.prod(dims[:axis]), math.prod(dims[axis:])]
    if node.op == "Reshape":
        value = evaluate(node.inputs[1], {**known, node.inputs[0].name: tuple(dims)}, int(graph.opset))
        return None if value is None else [int(v) for v in np.ravel(value)]
    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1:
        axes = constant_value(node.inputs[1])
    if node.op == "Squeeze":
        drop = {int(a) % len(dims) for a in np.ravel(axes)} if axes is not None else {i for i, d in enumerate(dims) if d == 1}
        return [d for i, d in enumerate(dims) if i not in drop]
    if axes is None:
        return None
    rank = len(dims) + len(np.ravel(axes))
    added = {int(a) % rank for a in np.ravel(axes)}
    rest = iter(dims)
    return [1 if i in added else next(rest) for i in range(rank)]


def _regroup(groups, sizes, target) -> list[list[int]]:
    """Positions after a Reshape: runs of the input's axes whose lengths multiply to each target dim (a
    dim of 1 takes one axis of length 1 when that comes next, so a batch of 1 keeps its identity)."""
    if target is None:
        raise _NotAChain("a view whose shape it cannot evaluate")
    order = [a for g in groups for a in g]
    total = math.prod(sizes[a] for a in order)
    dims = [int(d) for d in np.ravel(target)]
    dims = [math.prod(sizes[a] for a in groups[i]) if d == 0 else d for i, d in enumerate(dims)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = total // known if known else 0
    regrouped, i = [], 0
    for d in dims:
        run, product = [], 1
        while i < len(order) and (product < d or (d == 1 and not run and sizes[order[i]] == 1)):
            run.append(order[i])
            product *= sizes[order[i]]
            i += 1
        if product != d:
            raise _NotAChain("a Reshape splits one of the input's axes")
        regrouped.append(run)
    if i != len(order):
        raise _NotAChain("a Reshape drops axes")
    return regrouped


def _resize(node, groups, sizes, scales, attrs) -> dict:
    spec = resize_spec(node, len(groups))
    if isinstance(spec, str) or spec.scales is None:
        raise _NotAChain(f"a Resize whose scales are not constant ({spec if isinstance(spec, str) else 'sizes'})")
    mine = {k: spec.attrs[k] for k in INTERPOLATION}
    if mine["coordinate_transformation_mode"] == "tf_crop_and_resize":
        raise _NotAChain("a Resize with tf_crop_and_resize")
    if attrs is not None and mine != attrs:
        raise _NotAChain("Resizes with different interpolation attributes")
    keeps_shape = True
    for position, scale in enumerate(spec.scales):
        if scale == 1:
            continue
        if len(groups[position]) != 1:
            raise _NotAChain("a Resize scales a merged axis")
        axis = groups[position][0]
        if axis < 2 or scales[axis] != 1:
            raise _NotAChain("a Resize scales the batch or channels, or an axis twice")
        scales[axis] = scale
        new = math.floor(sizes[axis] * scale)
        keeps_shape &= new == sizes[axis]
        sizes[axis] = new
    if keeps_shape:
        raise _NotAChain("a Resize stage keeps its shape while scaled (onnxruntime copies those)")
    return mine


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    resize = next(n for n in m.nodes if n.op == "Resize")
    name = resize.name
    for node in m.nodes:
        node.inputs.clear()
        node.outputs.clear()
    attrs = {k: v for k, v in m.attrs.items() if v != INTERPOLATION[k]}
    inputs = [m.x, gs.Variable.empty() if int(graph.opset) >= 13 else b.const(np.zeros(0, np.float32), "roi"),
              b.const(np.asarray(m.scales, np.float32), "scales")]
    if int(graph.opset) < 11:
        inputs = [m.x, inputs[2]]
        attrs = {"mode": m.attrs["mode"]}
    graph.nodes.append(gs.Node("Resize", name=name, attrs=attrs, inputs=inputs, outputs=[m.y]))


PASS = register(Pass(
    name="resize4d-chain-to-resize5d",
    summary="Reshape/Transpose-joined 4-D Resizes of a 5-D tensor -> one Resize with per-axis scales, exact",
    anchor_ops=JOINS,
    match=match,
    rewrite=rewrite,
    ensures=(),  # it joins a chain into one Resize whose value verification compares
    matches=Match,
    doc=__doc__,
    min_opset=10,
))
