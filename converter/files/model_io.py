"""Loading and saving models: external data kept inside the model's folder, atomic writes, inputs never touched.

A model path may also be `example:NAME`, a net built by models/. Loading checks what a user can get
wrong (missing file, not ONNX, truncated, fails onnx.checker, external data that escapes the model's
folder or is missing) and raises BadInput with one line. External data is not read at load: the model
keeps its references (relative to LoadedModel.folder), a weight is read when a pass needs its values
(graph_io), onnxruntime reads the rest itself, and save copies the untouched bytes file to file. So a
GB-scale model costs the weights a conversion rewrites, not all of them, and no weight is copied per pass.
Saving writes to a claimed output (converter.output_paths: never the input or a file it reads, an
existing file only when forced), through a temporary folder beside it, and moves weights to a side file
when the input had one or the protobuf would pass 2 GB.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from onnxport.converter import attribute_checks, progress
from onnxport.converter.files import model_paths, output_paths
from onnxport.converter.files.output_paths import MODEL, Output, Outputs, Publication
from onnxport.errors import BadArgument, BadInput, OutputError, first_line

EXAMPLE_PREFIX = model_paths.EXAMPLE_PREFIX
PROTOBUF_LIMIT = 2**31 - 1
EXTERNAL_THRESHOLD = 1024          # tensors at least this many bytes go to the side file
MAX_DIM = 2**31 - 1                # no real input or output is longer on one axis
ALIGNMENT = 4096                   # side-file offsets of large tensors: page-aligned, so runtimes can map them
COPY_CHUNK = 64 << 20              # bytes per read when copying external data file to file


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    label: str                              # what the user typed, for messages
    path: Path | None = None                # None for examples
    data_files: list[Path] = field(default_factory=list)   # external data it was read from

    @property
    def uses_external_data(self) -> bool:
        return bool(self.data_files)

    @property
    def folder(self) -> Path | None:
        """Where the model's external-data locations resolve (None: it has none)."""
        return self.path.parent if self.data_files else None

    def protected_paths(self) -> list[Path]:
        """Files a save must never replace: the model and its weights."""
        return ([self.path] if self.path else []) + self.data_files


def load(spec: str | os.PathLike | onnx.ModelProto) -> LoadedModel:
    """A model file, `example:NAME`, or a ModelProto already in memory (its external data, if any, must
    have been loaded with it: there is no folder to read it from)."""
    if isinstance(spec, onnx.ModelProto):
        return _load_in_memory(spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise BadArgument(f"a model is a file path, example:NAME or an onnx.ModelProto, not {type(spec).__name__}")
    spec = os.fspath(spec)
    if spec.startswith(EXAMPLE_PREFIX):
        return _load_example(spec[len(EXAMPLE_PREFIX):])
    progress.say(f"loading {spec}")
    model_paths.check_file(spec)
    path = Path(spec)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise BadInput(f"{spec}: not an ONNX model (the protobuf does not parse: {first_line(e)})") from None
    except OSError as e:
        raise BadInput(f"{spec}: cannot read: {e.strerror or e}") from None
    if model.ir_version == 0 or not model.HasField("graph"):
        raise BadInput(f"{spec}: not an ONNX model (no IR version or no graph; truncated or another format?)")
    _check_text(model, spec)
    data_files = _external_data_files(model, path.parent.resolve(), spec)
    check(model, spec, path)
    return LoadedModel(model, spec, path.resolve(), data_files)


def _load_in_memory(model: onnx.ModelProto) -> LoadedModel:
    label = f"<ModelProto {model.graph.name or 'unnamed'}>"
    if external_tensors(model):
        raise BadInput(f"{label}: its weights are still in external files (load it with external data, or pass "
                       f"the file's path)")
    _check_text(model, label)
    check(model, label)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)                    # the caller's object is never modified
    return LoadedModel(copy, label)


def _load_example(name: str) -> LoadedModel:
    from onnxport.models import examples
    if name not in examples.EXAMPLES:
        raise BadArgument(f"unknown example '{name}'; examples: {', '.join(sorted(examples.EXAMPLES))}")
    return LoadedModel(examples.build(name), EXAMPLE_PREFIX + name)


def _check_text(message, label: str) -> None:
    """Every string field of the model is valid UTF-8 (the parser hands invalid ones back as bytes, which
    fail far from here when written again). Only string and message fields are touched: weights are
    never copied."""
    from google.protobuf.descriptor import FieldDescriptor as F
    stack = [message]
    while stack:
        msg = stack.pop()
        for field in msg.DESCRIPTOR.fields:
            repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == F.LABEL_REPEATED
            if field.type == F.TYPE_STRING:
                values = getattr(msg, field.name) if repeated else [getattr(msg, field.name)]
                if any(not isinstance(v, str) for v in values):
                    raise BadInput(f"{label}: not a valid ONNX model (a name or text field is not UTF-8)")
            elif field.type == F.TYPE_MESSAGE:
                if repeated:
                    stack.extend(getattr(msg, field.name))
                elif msg.HasField(field.name):
                    stack.append(getattr(msg, field.name))


def _external_data_files(model: onnx.ModelProto, folder: Path, label: str) -> list[Path]:
    """The external-data files the model reads, each checked to lie inside its folder and to hold the
    bytes each tensor claims; nothing is read."""
    files = []
    for tensor in external_tensors(model):
        try:
            info = external_data_helper.ExternalDataInfo(tensor)
        except ValueError as e:
            raise BadInput(f"{label}: tensor '{tensor.name}' has bad external-data entries: {first_line(e)}") from None
        location = info.location or ""
        if "\0" in location:
            raise BadInput(f"{label}: tensor '{tensor.name}' has an external-data location with a NUL byte")
        target = (folder / location).resolve()
        if not location or os.path.isabs(location) or not target.is_relative_to(folder):
            raise BadInput(f"{label}: tensor '{tensor.name}' points to external data '{location}' outside the "
                           f"model's folder")
        if not target.is_file():
            raise BadInput(f"{label}: tensor '{tensor.name}' needs external data '{location}', which is missing")
        size, offset = target.stat().st_size, info.offset or 0
        length = info.length if info.length is not None else size - offset
        end = offset + length
        expected = _nbytes(tensor)
        if offset < 0 or end > size or (expected is not None and length != expected):
            raise BadInput(f"{label}: tensor '{tensor.name}' reads bytes {offset}..{end} of '{location}' "
                           f"({size} bytes), which does not fit its shape")
        if target not in files:
            files.append(target)
    return files


def external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in external_data_helper._get_all_tensors(model) if external_data_helper.uses_external_data(t)]


_ITEMSIZE = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.FLOAT16: 2,
             onnx.TensorProto.BFLOAT16: 2, onnx.TensorProto.INT8: 1, onnx.TensorProto.UINT8: 1,
             onnx.TensorProto.INT16: 2, onnx.TensorProto.UINT16: 2, onnx.TensorProto.INT32: 4,
             onnx.TensorProto.UINT32: 4, onnx.TensorProto.INT64: 8, onnx.TensorProto.UINT64: 8,
             onnx.TensorProto.BOOL: 1}


def _nbytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes a tensor's values take; None for the types this does not size (strings, packed 4-bit, ...)."""
    itemsize = _ITEMSIZE.get(tensor.data_type)
    return None if itemsize is None else int(np.prod(tensor.dims, dtype=np.int64)) * itemsize


def in_memory_bytes(model: onnx.ModelProto) -> int:
    """Bytes of tensor data the protobuf itself carries (a cheap stand-in for ByteSize, which encodes)."""
    total = 0
    for t in external_data_helper._get_all_tensors(model):
        total += len(t.raw_data) + 4 * (len(t.float_data) + len(t.int32_data)) + 8 * (len(t.int64_data)
                                                                                     + len(t.double_data))
    return total


def materialize(model: onnx.ModelProto, folder: Path | None) -> onnx.ModelProto:
    """A copy with every external tensor's bytes read in (for consumers that need it whole)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    if folder is not None and external_tensors(copy):
        external_data_helper.load_external_data_for_model(copy, str(folder))
    return copy


def check(model: onnx.ModelProto, label: str, path: Path | None = None) -> None:
    """onnx.checker, with its message cut to one line; large models are checked from their file.

    Versions newer than the installed onnx knows are refused first: the checker accepts an unknown
    opset silently, and nothing downstream could interpret its ops.
    """
    if model.ir_version > onnx.IR_VERSION:
        raise BadInput(f"{label}: IR version {model.ir_version} is newer than this onnx reads ({onnx.IR_VERSION})")
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim if vi.type.HasField("tensor_type") else []
        bad = [d.dim_value for d in dims if d.HasField("dim_value") and not 0 <= d.dim_value <= MAX_DIM]
        if bad:
            raise BadInput(f"{label}: '{vi.name}' has dimension {bad[0]} (a size is 0..{MAX_DIM})")
    known = set(onnx.TensorProto.DataType.values())
    for t in external_data_helper._get_all_tensors(model):
        if t.data_type not in known or t.data_type == onnx.TensorProto.UNDEFINED:
            raise BadInput(f"{label}: tensor '{t.name}' has unknown data type {t.data_type}")
    for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type not in known:
            raise BadInput(f"{label}: '{vi.name}' has unknown element type {vi.type.tensor_type.elem_type}")
    newest = onnx.defs.onnx_opset_version()
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version > newest:
            raise BadInput(f"{label}: opset {imp.version} is newer than this onnx knows ({newest})")
    try:       # from the file where there is one: no copy of the weights, external data checked in place
        onnx.checker.check_model(str(path) if path is not None else model)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise BadInput(f"{label}: fails onnx.checker: {first_line(e)}") from None
    attribute_checks.check_attributes(model, label)
    _check_semantics(model, label)


def _check_semantics(model: onnx.ModelProto, label: str) -> None:
    """Strict shape inference: what the checker lets through but no runtime runs (zero or negative
    strides, a kernel longer than its padded input, ...). Models with ops of other domains are left to
    the runtime: their shapes cannot be inferred here."""
    domains = {n.domain for n in model.graph.node} | {n.domain for f in model.functions for n in f.node}
    if domains - {"", "ai.onnx"}:
        return
    try:
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as e:
        raise BadInput(f"{label}: its shapes do not add up: {first_line(e)}") from None


def save(model: onnx.ModelProto, out: Output | str, *, force: bool = False, protected: list[Path] = (),
         folder: Path | None = None, external: bool = False, publication: Publication | None = None) -> Path:
    """Write atomically to a claimed output (converter.output_paths; a plain path is claimed here). With
    external (or past 2 GB, or external tensors in `model`) the weights go to OUT.data beside OUT:
    tensors that still refer to the input's data (relative to `folder`) are copied file to file,
    in-memory ones written. The tensors of `model` are repointed to OUT.data (it is the caller's last
    use of it). With `publication` the files are staged there and published with the command's other
    outputs; without, published now."""
    external = external or bool(external_tensors(model)) or in_memory_bytes(model) > PROTOBUF_LIMIT
    if not isinstance(out, Output):
        out = Outputs(force=force, reads=list(protected)).claim(out, MODEL, data=external)
    elif external:                         # grown past 2 GB: OUT.data was not claimed with OUT
        Outputs(force=force, reads=list(protected)).claim(out.path, out.what, data=True)
    if publication is None:
        with output_paths.publication(force) as own:
            _stage(model, out, own, folder, external)
    else:
        _stage(model, out, publication, folder, external)
    return out.path


def _stage(model: onnx.ModelProto, out: Output, publication: Publication, folder: Path | None,
           external: bool) -> None:
    """The model (and OUT.data first, so a reader of the model finds its weights) into `publication`."""
    progress.say(f"writing {out.requested}")
    tmp = publication.folder(out)
    tmp_model, data_name = tmp / out.path.name, out.path.name + ".data"
    try:
        if external:
            _write_external_data(model, tmp / data_name, data_name, folder)
        with open(tmp_model, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise OutputError(f"{out.requested}: cannot write {out.what}: {e.strerror or e}") from None
    if external:
        publication.add(tmp / data_name, out.path.parent / data_name, out.requested + ".data")
    publication.add(tmp_model, out.path, out.requested)


def _write_external_data(model: onnx.ModelProto, data_path: Path, location: str, folder: Path | None) -> None:
    sources: dict[Path, object] = {}
    try:
        with open(data_path, "wb") as out:
            for tensor in external_data_helper._get_all_tensors(model):
                if external_data_helper.uses_external_data(tensor):
                    if folder is None:
                        raise BadInput(f"tensor '{tensor.name}': external data but no folder to read it from")
                    info = external_data_helper.ExternalDataInfo(tensor)
                    source_path = folder / info.location
                    if source_path not in sources:
                        sources[source_path] = open(source_path, "rb")
                    offset = _pad_to_alignment(out, info.length)
                    length = _copy_range(sources[source_path], out, info.offset or 0, info.length)
                elif len(tensor.raw_data) >= EXTERNAL_THRESHOLD:
                    offset = _pad_to_alignment(out, len(tensor.raw_data))
                    out.write(tensor.raw_data)
                    length = len(tensor.raw_data)
                    tensor.ClearField("raw_data")
                else:
                    continue
                del tensor.external_data[:]
                for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
                    tensor.external_data.add(key=key, value=value)
                tensor.data_location = onnx.TensorProto.EXTERNAL
            out.flush()
            os.fsync(out.fileno())
    finally:
        for f in sources.values():
            f.close()


def _pad_to_alignment(out, length: int | None) -> int:
    position = out.tell()
    if length is not None and length >= ALIGNMENT and position % ALIGNMENT:
        out.write(b"\0" * (ALIGNMENT - position % ALIGNMENT))
    return out.tell()


def _copy_range(source, out, offset: int, length: int | None) -> int:
    """Copy `length` bytes (None: to the end) from offset; returns how many were copied."""
    source.seek(offset)
    copied = 0
    while length is None or copied < length:
        chunk = source.read(COPY_CHUNK if length is None else min(COPY_CHUNK, length - copied))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
    return copied
