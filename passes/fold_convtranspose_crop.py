"""fold-convtranspose-crop: ConvTranspose then a Slice (and Pad) of its spatial axes -> its pads (exact).

Identity: cropping b positions at the start and e at the end of a ConvTranspose output is the same
ConvTranspose with pads (p_begin + b, p_end + e): pads only choose which positions of the full output
are kept. Appending z zeros at the end of an uncropped axis of a bias-free ConvTranspose is the same
as extending it by z (output_padding + z, positions no tap reaches hold the bias, here zero), as long
as output_padding stays below the stride. tf2onnx exports Keras Conv*Transpose with dynamic sizes this
way, with the bounds computed from Shape ops; they are evaluated at several probe sizes
(passes._shape_eval) and fold only when the crop is the same at every one.
Preconditions: the ConvTranspose's output feeds only the Slice (and the Slice only the Pad); unit
steps; batch and channels not cropped; bounds that depend only on the ConvTranspose's input/output
sizes; W's shape static.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import SymbolicOutputShape, resolve
from onnxport.passes._graph import GraphBuilder, constant_value, known_dims
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes._shape_eval import evaluate
from onnxport.passes import conditions

PROBES = 4


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    convtranspose: gs.Node
    pads: list[int]
    output_padding: list[int]


def match(graph: gs.Graph, sl: gs.Node, settings: NoSettings):
    ct = sl.inputs[0].inputs[0] if sl.inputs[0].inputs else None
    if ct is None or ct.op != "ConvTranspose":
        return None
    weight = constant_value(ct.inputs[1])
    w_shape = weight.shape if weight is not None else ct.inputs[1].shape
    if w_shape is None:
        return Skip(f"ConvTranspose '{ct.name}': its weight's shape is unknown")
    n = len(w_shape) - 2
    try:
        spec = resolve(ct.name, ct.attrs, w_shape, known_dims(ct.inputs[0], n + 2)[2:])
    except SymbolicOutputShape as e:
        return Skip(str(e))
    probes = [_probe_shapes(ct, spec, n, p) for p in range(PROBES)]
    shapes = [{ct.inputs[0].name: x, sl.inputs[0].name: y} for x, y in probes]
    crops = _same_everywhere([_crop(sl, s, y, int(graph.opset)) for s, (_, y) in zip(shapes, probes)])
    if isinstance(crops, str):
        return Skip(f"Slice after ConvTranspose '{ct.name}': {crops}")
    explicit = [a.explicit() for a in spec.axes]
    pads = [e[0] + c[0] for e, c in zip(explicit, crops)] + [e[1] + c[1] for e, c in zip(explicit, crops)]
    output_padding = [e[2] for e in explicit]
    nodes = (ct, sl)
    pad = _trailing_pad(graph, sl, ct)
    zeros = _same_everywhere([_zeros(pad, s, n, int(graph.opset)) for s in shapes]) if pad is not None else "none"
    if not isinstance(zeros, str) and all(z == 0 or (c[1] == 0 and op + z < a.stride)
                                          for z, c, op, a in zip(zeros, crops, output_padding, spec.axes)):
        nodes += (pad,)
        output_padding = [op + z for op, z in zip(output_padding, zeros)]
    if not _feeds_only(graph, sl.inputs[0], nodes[1:]):
        return Skip(f"ConvTranspose '{ct.name}': its output is used elsewhere")
    return Match(nodes, ct, pads, output_padding)


def _feeds_only(graph: gs.Graph, y: gs.Tensor, sinks: tuple[gs.Node, ...]) -> bool:
    """y is the Slice's data and otherwise read only by Shape ops whose results end in the bounds of the
    Slice (and the Pad): all of it dies with them."""
    sl = sinks[0]
    if y in graph.outputs or sum(1 for c in y.outputs if c is sl) != 1:
        return False
    frontier = [c for c in y.outputs if c is not sl]
    if any(c.op != "Shape" for c in frontier):
        return False
    seen = set()
    while frontier:
        node = frontier.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for t in node.outputs:
            if t in graph.outputs:
                return False
            for c in t.outputs:
                if any(c is s for s in sinks):
                    if c.inputs[0] is t:           # feeding the data, not a bound
                        return False
                else:
                    frontier.append(c)
    return True


def _probe_shapes(ct: gs.Node, spec, n: int, probe: int):
    x_dims = known_dims(ct.inputs[0], n + 2)
    x = [x_dims[0] or 1 + probe % 2, spec.in_channels] + [d or 5 + probe + a for a, d in enumerate(x_dims[2:])]
    return tuple(x), tuple([x[0], spec.out_channels] + list(spec.output_spatial(x[2:])))


def _same_everywhere(results: list):
    """The common result of every probe, or why there is none."""
    for r in results:
        if isinstance(r, str):
            return r
    if any(r != results[0] for r in results):
        return "it changes with the input size"
    return results[0]


def _crop(sl: gs.Node, shapes: dict, y_shape: tuple, opset: int) -> list[tuple[int, int]] | str:
    """(begin, end) positions the Slice removes per spatial axis, at one probe size."""
    params = _slice_params(sl, shapes, opset, len(y_shape))
    if isinstance(params, str):
        return params
    crops = []
    for axis, size in enumerate(y_shape):
        start, end, step = params.get(axis, (0, size, 1))
        if step != 1:
            return "a step other than 1"
        begin, stop = _clamp(start, size), _clamp(end, size)
        if axis < 2 and (begin, stop) != (0, size):
            return "it crops the batch or channel axis"
        if axis >= 2:
            crops.append((begin, size - stop))
    return crops


def _slice_params(sl: gs.Node, shapes: dict, opset: int, rank: int) -> dict | str:
    if "starts" in sl.attrs:                                     # opset < 10: attributes
        starts, ends = sl.attrs["starts"], sl.attrs["ends"]
        axes, steps = sl.attrs.get("axes", list(range(len(starts)))), [1] * len(starts)
    else:
        values = [evaluate(t, shapes, opset) if t.name else None for t in sl.inputs[1:]] + [None, None]
        starts, ends, axes, steps = values[:4]
        if starts is None or ends is None or (len(sl.inputs) > 3 and sl.inputs[3].name and axes is None) \
                or (len(sl.inputs) > 4 and sl.inputs[4].name and steps is None):
            return "its bounds depend on more than the ConvTranspose's sizes"
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
    return {int(a) % rank: (int(s), int(e), int(st)) for a, s, e, st in
            zip(np.ravel(axes), np.ravel(starts), np.ravel(ends), np.ravel(steps))}


def _clamp(index: int, size: int) -> int:
    index = index + size if index < 0 else index
    return max(0, min(size, index))


def _trailing_pad(graph: gs.Graph, sl: gs.Node, ct: gs.Node) -> gs.Node | None:
    """The Slice's only consumer when it is a zero Pad after a bias-free ConvTranspose (zeros there are
    what the extended ConvTranspose computes)."""
    out = sl.outputs[0]
    if len(out.outputs) != 1 or out in graph.outputs or (len(ct.inputs) > 2 and ct.inputs[2].name):
        return None
    pad = out.outputs[0]
    mode = pad.attrs.get("mode", "constant")
    if pad.op != "Pad" or mode not in ("constant", b"constant") or len(pad.inputs) > 3:
        return None
    if len(pad.inputs) > 2 and pad.inputs[2].name and np.any(constant_value(pad.inputs[2]) != 0):
        return None
    return pad


def _zeros(pad: gs.Node, shapes: dict, n: int, opset: int) -> list[int] | str:
    """Zeros the Pad appends per spatial axis at one probe size (nothing before, nothing on N or C)."""
    pads = evaluate(pad.inputs[1], shapes, opset) if len(pad.inputs) > 1 else np.asarray(pad.attrs.get("pads", []))
    if pads is None or len(pads) != 2 * (n + 2) or np.any(pads[: n + 4] != 0):
        return "the Pad is not zeros appended to the spatial axes"
    return [int(z) for z in pads[n + 4:]]


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    ct, last = m.nodes[0], m.nodes[-1]
    y = last.outputs[0]
    for node in m.nodes[1:]:
        node.inputs.clear()
        node.outputs.clear()
    for key in ("auto_pad", "output_shape"):
        ct.attrs.pop(key, None)
    ct.attrs["pads"] = m.pads
    if any(m.output_padding):
        ct.attrs["output_padding"] = m.output_padding
    else:
        ct.attrs.pop("output_padding", None)
    ct.outputs.clear()
    ct.outputs.append(y)


PASS = register(Pass(
    name="fold-convtranspose-crop",
    summary="ConvTranspose + Slice (+ zero Pad) of its spatial axes -> ConvTranspose pads/output_padding, exact",
    anchor_ops=("Slice",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.op_is("Slice"),),
    matches=Match,
    doc=__doc__,
))
