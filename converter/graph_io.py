"""ModelProto <-> onnx-graphsurgeon Graph, keeping what gs would drop or change.

gs.export_onnx stamps the installed onnx's IR version and default opset imports, and forgets
model-level metadata; a ported model must keep the IR version, opsets, producer, doc strings and
metadata_props it came with (raising only the opsets a rewrite really needed). Intermediate value_info
of new tensors is not written (their shapes are re-derivable); entries of the source model are kept for
the tensors that still exist with a compatible shape (a freed size or a fully convolutional head
changes some).
"""
from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs


def to_graph(model: onnx.ModelProto) -> gs.Graph:
    return gs.import_onnx(model)


def to_model(graph: gs.Graph, like: onnx.ModelProto) -> onnx.ModelProto:
    """Export `graph` with the IR version, opsets and metadata of `like` (the model it came from)."""
    model = gs.export_onnx(graph, do_type_check=False)
    model.ir_version = like.ir_version
    wanted = {imp.domain: imp.version for imp in like.opset_import}
    for imp in model.opset_import:
        wanted.setdefault(imp.domain, imp.version)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in wanted.items())
    for key in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(model, key, getattr(like, key))
    del model.metadata_props[:]
    model.metadata_props.extend(like.metadata_props)
    model.graph.doc_string = like.graph.doc_string
    tensors = graph.tensors()
    del model.graph.value_info[:]
    model.graph.value_info.extend(vi for vi in like.graph.value_info
                                  if vi.name in tensors and _still_fits(vi, tensors[vi.name]))
    return model


def _still_fits(vi: onnx.ValueInfoProto, tensor) -> bool:
    """A source value_info entry still describes the tensor of that name (a rewrite may change a shape)."""
    if tensor.shape is None:
        return True
    dims = vi.type.tensor_type.shape.dim
    if len(dims) != len(tensor.shape):
        return False
    return all(not d.HasField("dim_value") or d.dim_value == t for d, t in zip(dims, tensor.shape))
