"""ModelProto <-> onnx-graphsurgeon Graph, keeping what gs would drop or change.

gs.export_onnx stamps the installed onnx's IR version and default opset imports, and forgets
model-level metadata; a ported model must keep the IR version, opsets, producer, doc strings and
metadata_props it came with (raising only the opsets a rewrite really needed). Intermediate value_info
of new tensors is not written (their shapes are re-derivable); entries of the source model are kept for
the tensors that still exist with a compatible shape (a freed size or a fully convolutional head
changes some).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import external_data_helper, numpy_helper
from onnx_graphsurgeon.ir.tensor import LazyValues

from onnxport.errors import BadInput, first_line
from onnxport.passes import all_graphs


class _ExternalValues(LazyValues):
    """A constant whose bytes stay in the model's external-data file until a pass reads its values;
    exported as the same reference, so weights no pass touched are never read or copied."""

    CACHED = 64 << 10        # bytes: small tensors (shape inference reads them on every pass) are read once

    def __init__(self, tensor: onnx.TensorProto, folder: Path | None):
        super().__init__(tensor)
        self.folder = folder
        self._small: np.ndarray | None = None

    def load(self) -> np.ndarray:
        if self._small is not None:
            return self._small.copy()
        values = self._read()
        if values.nbytes <= self.CACHED:
            self._small = values.copy()
        return values

    def _read(self) -> np.ndarray:
        if self.folder is None:
            raise BadInput(f"tensor '{self.tensor.name}' has external data but the model's folder is unknown")
        loaded = onnx.TensorProto()
        loaded.CopyFrom(self.tensor)           # the reference itself stays as it is
        try:
            external_data_helper.load_external_data_for_tensor(loaded, str(self.folder))
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read the external data of '{self.tensor.name}': {first_line(e)}") from None
        return np.array(numpy_helper.to_array(loaded))


def to_graph(model: onnx.ModelProto, folder: Path | None = None) -> gs.Graph:
    """The gs graph of `model`; external-data tensors are read from `folder` only when used."""
    graph = gs.import_onnx(model)
    for g in all_graphs(graph):
        for t in g.tensors().values():
            if isinstance(t, gs.Constant) and type(t._values) is LazyValues \
                    and external_data_helper.uses_external_data(t._values.tensor):
                t._values = _ExternalValues(t._values.tensor, folder)
                t.data_location = None      # once read, its values are exported in memory, not as a reference
    return graph


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
