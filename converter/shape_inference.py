"""Shape inference on a gs graph without copying its weights, and ConvTranspose output-size notes.

ONNX shape inference wants a ModelProto. Exporting the whole graph after every pass would copy every
weight each time, so inference runs on a skeleton: the nodes, the graph inputs and outputs, the small
constants (shape, index and scale tensors, which inference may read) as initializers, and the large
ones, initializers and Constant nodes alike, declared as typed graph inputs (inference only needs their
shapes; data propagation through a large constant once took 20x its size in memory).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import external_data_helper, numpy_helper
from onnx_graphsurgeon.exporters.onnx_exporter import OnnxExporter, dtype_to_onnx
from onnx_graphsurgeon.ir.tensor import LazyValues

from onnxport.errors import UnsupportedGraph, one_line
from onnxport.passes import resolve_convtranspose as resolve, weight_shape

SMALL_CONSTANT = 4096       # elements; larger float constants are declared, not copied


def skeleton(graph: gs.Graph, input_shapes: dict | None = None) -> onnx.ModelProto:
    """A ModelProto of `graph` fit for shape inference; input_shapes overrides graph input shapes."""
    inputs, initializers = [], []
    for t in graph.inputs:
        shape = (input_shapes or {}).get(t.name, t.shape)
        inputs.append(onnx.helper.make_tensor_value_info(t.name, dtype_to_onnx(t.dtype), shape))
    for t in graph.tensors().values():
        if not isinstance(t, gs.Constant):
            continue
        if _is_small(t):
            initializers.append(_tensor_proto(t))
        else:
            inputs.append(_declared(t.name, t.dtype, t.shape))
    outputs = [onnx.helper.make_empty_tensor_value_info(t.name) for t in graph.outputs]
    nodes = []
    for n in graph.nodes:
        value = n.attrs.get("value") if n.op == "Constant" else None
        if isinstance(value, gs.Constant) and not _is_small(value):     # declared like a large initializer
            inputs.append(_declared(n.outputs[0].name, value.dtype, value.shape))
            continue
        nodes.append(OnnxExporter.export_node(n))
    g = onnx.helper.make_graph(nodes, graph.name, inputs, outputs, initializers)
    domains = graph.import_domains or [onnx.helper.make_opsetid("", int(graph.opset))]
    model = onnx.helper.make_model(g, opset_imports=domains,
                                   functions=[OnnxExporter.export_function(f) for f in graph.functions])
    model.ir_version = graph.ir_version or onnx.IR_VERSION
    return model


def _declared(name: str, dtype, shape) -> onnx.ValueInfoProto:
    """A large constant as a typed input. A long 1-D integer one gets a symbolic length: onnx's data
    propagation would otherwise expand it element by element (686 MiB for 10M elements), though a lookup
    table never is a shape."""
    if len(shape) == 1 and np.issubdtype(np.dtype(dtype), np.integer):
        shape = [f"{name}_length"]
    return onnx.helper.make_tensor_value_info(name, dtype_to_onnx(dtype), shape)


def infer(graph: gs.Graph, input_shapes: dict | None = None) -> dict[str, onnx.ValueInfoProto]:
    """Inferred type of every tensor that inference could type (name -> ValueInfoProto); {} where onnx's
    inference fails on the graph (some exports carry ops or types it rejects, which runtimes still run)."""
    return _inferred(graph, input_shapes)[0]


def _inferred(graph: gs.Graph, input_shapes: dict | None = None) -> tuple[dict, str | None]:
    """(types, None), or (what a lenient inference could type, why strict inference failed)."""
    model = skeleton(graph, input_shapes)
    error = None
    for strict in (True, False):
        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True, strict_mode=strict)
        except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as e:
            error = error or one_line(e)
            continue
        infos = list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)
        return {vi.name: vi for vi in infos if vi.type.HasField("tensor_type")}, error
    return {}, error


def annotate(graph: gs.Graph) -> str | None:
    """Set dtype and shape of every intermediate tensor from inference (graph inputs/outputs stay); returns
    why inference failed, or None (a pass that breaks typing is found by comparing with before it)."""
    infos, error = _inferred(graph)
    io = {t.name for t in graph.inputs + graph.outputs}
    for name, tensor in graph.tensors().items():
        vi = infos.get(name)
        if vi is None or name in io or isinstance(tensor, gs.Constant):
            continue
        tensor.dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        tensor.shape = dims_of(vi)
    return error


def value_infos(graph: gs.Graph) -> list[onnx.ValueInfoProto]:
    """Inferred types of every intermediate tensor, to write into a model (fix-sizes propagates shapes)."""
    io = {t.name for t in graph.inputs + graph.outputs}
    consts = {n for n, t in graph.tensors().items() if isinstance(t, gs.Constant)}
    return [vi for name, vi in infer(graph).items() if name not in io and name not in consts]


def dims_of(vi: onnx.ValueInfoProto):
    """Dims of a ValueInfo as ints, names for symbolic dims, None for unknown ones; None if no shape."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def _is_small(t: gs.Constant) -> bool:
    size = int(np.prod(t.shape)) if t.shape is not None else 0
    return size <= SMALL_CONSTANT


def _tensor_proto(t: gs.Constant) -> onnx.TensorProto:
    if isinstance(t._values, LazyValues):
        if not external_data_helper.uses_external_data(t._values.tensor):
            return t._values.tensor
        return numpy_helper.from_array(t._values.load(), t.name)     # inference reads values in place
    return numpy_helper.from_array(np.asarray(t.values), t.name)


@dataclass
class NodeShapes:
    node: str
    op: str
    outputs: list[tuple[str, list | None]]
    notes: list[str] = field(default_factory=list)      # ConvTranspose: the sizes its stride allows


def node_shapes(graph: gs.Graph, input_shapes: dict | None = None) -> list[NodeShapes]:
    """Output shape of every node (symbolic names kept), with size notes for each ConvTranspose."""
    infos = infer(graph, input_shapes)
    rows = []
    for node in graph.nodes:
        outs = [(t.name, dims_of(infos[t.name]) if t.name in infos else None) for t in node.outputs]
        row = NodeShapes(node.name, node.op, outs)
        if node.op == "ConvTranspose":
            x = infos.get(node.inputs[0].name)
            row.notes = convtranspose_notes(node, dims_of(x) if x is not None else None)
        rows.append(row)
    return rows


def convtranspose_notes(node: gs.Node, x_dims) -> list[str]:
    """Per axis: the s sizes a stride-s ConvTranspose can invert to (s*L - j), and the one it picks.

    A stride-s Conv maps every size in (s*(L-1), s*L] to L, so inverting it is ambiguous by s-1;
    output_padding (or output_shape) chooses. Sizes outside that set are noted as such.
    """
    w_shape = weight_shape(node.inputs[1])
    if w_shape is None:
        return ["weight shape unknown"]
    n = len(w_shape) - 2
    spatial = list(x_dims[2:]) if x_dims is not None and len(x_dims) == n + 2 else [None] * n
    known = [d if isinstance(d, int) else None for d in spatial]
    try:
        spec = resolve(node.name, node.attrs, w_shape, known)
    except UnsupportedGraph as e:
        return [str(e)]
    notes = []
    for i, (axis, d) in enumerate(zip(spec.axes, spatial)):
        s = axis.stride
        name = str(d) if d is not None else f"L{i}"
        allowed = [_affine(s, -j, name, d) for j in reversed(range(s))]
        picked = _affine(s, axis.length_offset, name, d)
        outside = "" if -s < axis.length_offset <= 0 else " (outside that set)"
        notes.append(f"axis {i}: in {name} -> out {picked}; stride {s} allows {' | '.join(allowed)} "
                     f"(output_padding or output_shape chooses); the attributes pick {picked}{outside}")
    return notes


def _affine(scale: int, offset: int, name: str, value) -> str:
    if isinstance(value, int):
        return str(scale * value + offset)
    text = name if scale == 1 else f"{scale}*{name}"
    return text if offset == 0 else f"{text}{offset:+d}"
