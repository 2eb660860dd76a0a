"""resize-sizes-to-scales: a Resize with constant sizes on freed axes -> the same Resize with scales.

Identity: a Resize given sizes interpolates with scale = size/length per axis; given that scale it
computes the same coordinates, and floor(length * scale) is the same size whenever float32 rounding
does not push it below (checked at the exported sizes). Scales then follow the input at every other
size, where constant sizes would pin the output.
Needs ExportedShapes.static_shapes; keep_aspect_ratio_policy other than stretch stays (its scale is shared
across axes and its sizes round half up).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, known_dims
from onnxport.passes._registry import ExportedShapes, Pass, Skip, register
from onnxport.passes._resize import resize_spec, sizes_entries
from onnxport.passes import conditions


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    scales: np.ndarray


def match(graph: gs.Graph, node: gs.Node, settings: ExportedShapes):
    x = node.inputs[0]
    exported = settings.exported_shape(x.name)
    if node.op != "Resize" or len(node.inputs) < 4 or not node.inputs[3].name or exported is None \
            or all(d is not None for d in known_dims(x, len(exported))):
        return None
    spec = resize_spec(node, len(exported))
    if isinstance(spec, str):
        return Skip(f"sizes that cannot become scales ({spec})")
    sizes = spec.sizes if spec.sizes is not None else _sizes_with_kept_lengths(spec, x, exported)
    if isinstance(sizes, str):
        return None if sizes == "" else Skip(f"sizes that cannot become scales ({sizes})")
    sizes = [n if s is None else s for s, n in zip(sizes, exported)]
    scales = np.asarray([s / n for s, n in zip(sizes, exported)], np.float32)
    if any(math.floor(float(sc) * n) != s for sc, n, s in zip(scales, exported, sizes)):
        return Skip("float32 scales would give other sizes at the exported size: the sizes pin it")
    return Match((node,), scales)


def _sizes_with_kept_lengths(spec, x: gs.Tensor, exported: list) -> list | str:
    """Computed sizes whose computed entries read the input's own length on their axis (scale 1, as a
    freed batch is kept): the per-axis sizes at export; "" where every freed axis is computed (nothing
    baked to scale), else why not."""
    entries = sizes_entries(spec.sizes_tensor, x)
    if entries is None or len(entries) != len(spec.axes):
        return "computed"
    freed = [a for a, d in enumerate(known_dims(x, len(exported))) if d is None]
    by_axis = dict(zip(spec.axes, entries))
    if all(not isinstance(by_axis.get(a), int) for a in freed):
        return ""
    if any(e is None or isinstance(e, tuple) and e != (a,) for a, e in by_axis.items()):
        return "computed"
    return [exported[a] if isinstance(by_axis.get(a), tuple) else by_axis.get(a) for a in range(len(exported))]


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    node.attrs.pop("axes", None)
    node.attrs.pop("keep_aspect_ratio_policy", None)
    node.inputs[2] = b.const(m.scales, "scales")
    del node.inputs[3]                             # sizes


PASS = register(Pass(
    name="resize-sizes-to-scales",
    summary="Resize with constant sizes on freed axes -> Resize with the equivalent scales, exact",
    anchor_ops=("Resize",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.resize_by_sizes,),
    matches=Match,
    settings=ExportedShapes,
    doc=__doc__,
    min_opset=11,
))
