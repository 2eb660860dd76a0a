"""free-baked-sizes: constants that bake freed sizes (Reshape targets, Expand shapes, Slice ends, Resize
sizes back to the image's size) -> computed.

Identity: at the exported sizes every freed dim has its exported value, so replacing a constant by an
expression that evaluates to it there changes nothing; at other sizes the expression follows the input.
The expressions come from passes._symbolic_dims: each output dim of a Reshape is a constant times the
atoms (freed dims, or lengths computed from them) the element order puts there, each read as
Shape(home)[axis] from the tensor it first appears in. So an unflatten (n*d, c, h, w) -> (n, d, c, h, w)
exported at n = 1 gets the target (N, D, c, H, W), not (1, N*D, c, H, W): the batch is not folded into
the depth. An Expand keeps a freed dim by a 1 in its shape (broadcasting keeps the input's length); a
Slice end equal to the exported length of a freed dim reads to the end. A constant Resize size equal to
a freed image's exported size on that axis is read as that image's size (passes._resize.image_size_home,
the same reading as the size analysis's), and a baked batch entry as the Resize input's batch; the other
entries then read its own freed lengths where they keep them (scale 1) and stay constant elsewhere.
Needs ExportedShapes.static_shapes (the exported shapes); the freed dims are the graph inputs' symbolic ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import INT64_MAX, Dim, GraphBuilder, constant_value
from onnxport.passes._registry import ExportedShapes, Pass, register
from onnxport.passes._resize import image_size_home, sizes_parts
from onnxport.passes._symbolic_dims import Atom, SymbolicDims, constant_part, propagate


@dataclass(frozen=True)
class Match:
    nodes: tuple = ()
    reshapes: tuple = ()         # (node, [Dim per output dim])
    expands: tuple = ()          # (node, new shape)
    slices: tuple = ()           # (node, new ends)
    resizes: tuple = ()          # (node, new sizes: per part, the tensor kept or a [Dim per entry], entries)


def freed_dims(graph: gs.Graph, static: dict) -> dict[str, list[int]]:
    """Input -> the axes that are symbolic now but had a size at export."""
    return {x.name: [i for i, d in enumerate(x.shape) if not isinstance(d, int) and isinstance(static[x.name][i], int)]
            for x in graph.inputs if x.shape is not None and x.name in static}


def match(graph: gs.Graph, _node, settings: ExportedShapes):
    static = {name: list(shape) for name, shape in settings.static_shapes}
    freed = freed_dims(graph, static)
    if not static or not any(freed.values()):
        return None
    sym = propagate(graph, static, freed)
    tensors = graph.tensors()
    images = [(x.name, [d if i in freed[x.name] else None for i, d in enumerate(static[x.name])])
              for x in graph.inputs if freed.get(x.name)]
    reshapes, expands, slices, resizes = [], [], [], []
    for node in graph.nodes:
        out = node.outputs[0] if node.outputs else None
        if node.op == "Reshape" and out is not None and sym.symbolic(out.name) and _baked(node, sym):
            reshapes.append((node, [_dim(d, tensors) for d in sym.dims[out.name]]))
        elif node.op == "Expand" and sym.symbolic(node.inputs[0].name):
            shape = _expand_shape(node, sym, static)
            if shape is not None:
                expands.append((node, shape))
        elif node.op == "Slice" and sym.symbolic(node.inputs[0].name):
            ends = _slice_ends(node, sym, static)
            if ends is not None:
                slices.append((node, ends))
        elif node.op == "Resize" and len(node.inputs) > 3 and node.inputs[3].name and sym.symbolic(node.inputs[0].name):
            sizes = _resize_sizes(node, sym, static, images, tensors)
            if sizes is not None:
                resizes.append((node, *sizes))
    if not (reshapes or expands or slices or resizes):
        return None
    return Match((), tuple(reshapes), tuple(expands), tuple(slices), tuple(resizes))


def _baked(node: gs.Node, sym: SymbolicDims) -> bool:
    """The constant target gives some symbolic dim as a number (not 0 copying it, not the one -1)."""
    target = constant_value(node.inputs[1])
    if target is None:
        return False                               # computed from Shape already
    x, out = node.inputs[0].name, node.outputs[0].name
    for i, (entry, dims) in enumerate(zip(np.ravel(target), sym.dims[out])):
        if not any(isinstance(f, Atom) for f in dims):
            continue
        copied = entry == 0 and not node.attrs.get("allowzero", 0) and sym.dims[x][i] == dims
        if entry > 0 or (entry == 0 and not copied):
            return True
    return int(np.sum(np.ravel(target) == -1)) > 1


def _dim(factors: tuple, tensors: dict) -> Dim:
    atoms = tuple((tensors[f.home], f.axis) for f in factors if isinstance(f, Atom))
    return Dim(constant_part(factors), extra=atoms, read=True)


def _expand_shape(node: gs.Node, sym: SymbolicDims, static: dict) -> np.ndarray | None:
    shape = constant_value(node.inputs[1])
    if shape is None:
        return None
    shape = np.array(np.ravel(shape), np.int64)
    x_dims = sym.dims[node.inputs[0].name]
    offset = len(shape) - len(x_dims)
    changed = False
    for i, dims in enumerate(x_dims):
        if offset + i >= 0 and any(isinstance(f, Atom) for f in dims) and shape[offset + i] != 1:
            shape[offset + i], changed = 1, True
    return shape if changed else None


def _slice_ends(node: gs.Node, sym: SymbolicDims, static: dict) -> np.ndarray | None:
    if len(node.inputs) < 3:
        return None
    ends = constant_value(node.inputs[2])
    axes = constant_value(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3].name else None
    if ends is None or (len(node.inputs) > 3 and node.inputs[3].name and axes is None):
        return None
    x = node.inputs[0].name
    rank = len(static[x])
    axes = [int(a) % rank for a in np.ravel(axes)] if axes is not None else list(range(len(np.ravel(ends))))
    ends = np.array(np.ravel(ends), np.int64)
    changed = False
    for i, axis in enumerate(axes):
        if any(isinstance(f, Atom) for f in sym.dims[x][axis]) and ends[i] == static[x][axis]:
            ends[i], changed = INT64_MAX, True
    return ends if changed else None


def _resize_sizes(node: gs.Node, sym: SymbolicDims, static: dict, images: list, tensors: dict) -> tuple | None:
    """The sizes' parts with each constant entry that is a freed image's size read from that image, the
    entries equal to the Resize's own freed lengths read from its input; None where neither an image's size
    nor the batch is baked."""
    x = node.inputs[0]
    rank = len(static.get(x.name) or [])
    parts = sizes_parts(node.inputs[3])
    if not rank or parts is None:
        return None
    axes = [int(a) % rank for a in node.attrs.get("axes", range(rank))]
    images = [(name, dims) for name, dims in images if len(dims) == rank]
    new, entry, follows = [], 0, False
    for part, values in parts:
        if values is None:
            new.append(part)
            entry += part.shape[0]
            continue
        dims = []
        for value in values:
            if entry >= len(axes):
                return None
            axis, entry = axes[entry], entry + 1
            freed = any(isinstance(f, Atom) for f in sym.dims[x.name][axis])
            home = image_size_home(int(value), axis, images) if freed else None
            if home is not None:
                dims.append(Dim(1, extra=((tensors[home], axis),), read=True))
                follows = True
            elif freed and value == static[x.name][axis]:
                dims.append(Dim(1, axes=(axis,), of=x, read=True))
                follows = follows or axis == 0         # a batch the sizes bake follows the input's
            else:
                dims.append(Dim(int(value)))
        new.append(dims)
    return (new, entry) if follows and entry == len(axes) else None


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    for node, dims in m.reshapes:
        node.inputs[1] = b.shape_tensor(node.inputs[0], dims)
    for node, shape in m.expands:
        node.inputs[1] = b.ints(shape, "expand_shape")
    for node, ends in m.slices:
        node.inputs[2] = b.ints(ends, "ends")
    for node, parts, entries in m.resizes:
        built = [p if isinstance(p, gs.Tensor) else b.shape_tensor(node.inputs[0], p, infer=False) for p in parts]
        node.inputs[3] = built[0] if len(built) == 1 else \
            b.op("Concat", built, {"axis": 0}, stem="sizes", dtype=np.int64, shape=[entries])


PASS = register(Pass(
    name="free-baked-sizes",
    summary="Reshape targets, Expand shapes, Slice ends, Resize sizes that bake freed sizes -> computed from Shape",
    anchor_ops=(),
    match=match,
    rewrite=rewrite,
    ensures=(),  # graph-level: what it frees is checked by running the model at freed sizes (verify)
    matches=Match,
    settings=ExportedShapes,
    doc=__doc__,
))
