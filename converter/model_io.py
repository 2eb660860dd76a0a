"""Loading and saving models: external data kept inside the model's folder, atomic writes, inputs never touched.

A model path may also be `example:NAME`, a net built by models/. Loading checks what a user can get
wrong (missing file, not ONNX, truncated, fails onnx.checker, external data that escapes the model's
folder or is missing) and raises BadInput with one line. Saving refuses to overwrite the input or any
file it reads, refuses an existing output unless forced, writes to a temporary file in the target folder
and renames it into place, and moves weights to a side file when the protobuf would pass 2 GB.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from converter.errors import BadArgument, BadInput, OutputError, first_line

EXAMPLE_PREFIX = "example:"
PROTOBUF_LIMIT = 2**31 - 1
EXTERNAL_THRESHOLD = 1024          # tensors at least this many bytes go to the side file


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    label: str                              # what the user typed, for messages
    path: Path | None = None                # None for examples
    data_files: list[Path] = field(default_factory=list)   # external data it was read from

    @property
    def uses_external_data(self) -> bool:
        return bool(self.data_files)

    def protected_paths(self) -> list[Path]:
        """Files a save must never replace: the model and its weights."""
        return ([self.path] if self.path else []) + self.data_files


def load(spec: str) -> LoadedModel:
    if spec.startswith(EXAMPLE_PREFIX):
        return _load_example(spec[len(EXAMPLE_PREFIX):])
    path = Path(spec)
    if not path.exists():
        raise BadInput(f"{spec}: no such file")
    if not path.is_file():
        raise BadInput(f"{spec}: not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise BadInput(f"{spec}: not an ONNX model (the protobuf does not parse: {first_line(e)})") from None
    except OSError as e:
        raise BadInput(f"{spec}: cannot read: {e.strerror or e}") from None
    if model.ir_version == 0 or not model.HasField("graph"):
        raise BadInput(f"{spec}: not an ONNX model (no IR version or no graph; truncated or another format?)")
    data_files = _load_external_data(model, path.parent.resolve(), spec)
    check(model, spec, path)
    return LoadedModel(model, spec, path.resolve(), data_files)


def _load_example(name: str) -> LoadedModel:
    from models import examples
    if name not in examples.EXAMPLES:
        raise BadArgument(f"unknown example '{name}'; examples: {', '.join(sorted(examples.EXAMPLES))}")
    return LoadedModel(examples.build(name), EXAMPLE_PREFIX + name)


def _load_external_data(model: onnx.ModelProto, folder: Path, label: str) -> list[Path]:
    """Resolve every external-data location inside the model's folder, then read the bytes in."""
    files = []
    for tensor in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        location = info.location or ""
        target = (folder / location).resolve()
        if not location or os.path.isabs(location) or not target.is_relative_to(folder):
            raise BadInput(f"{label}: tensor '{tensor.name}' points to external data '{location}' outside the "
                           f"model's folder")
        if not target.is_file():
            raise BadInput(f"{label}: tensor '{tensor.name}' needs external data '{location}', which is missing")
        size = target.stat().st_size
        end = (info.offset or 0) + (info.length or 0)
        if (info.offset or 0) < 0 or end > size:
            raise BadInput(f"{label}: tensor '{tensor.name}' reads bytes {info.offset}..{end} of '{location}', "
                           f"which has {size}")
        if target not in files:
            files.append(target)
    if files:
        try:
            external_data_helper.load_external_data_for_model(model, str(folder))
        except (OSError, ValueError) as e:
            raise BadInput(f"{label}: cannot read external data: {first_line(e)}") from None
    return files


def check(model: onnx.ModelProto, label: str, path: Path | None = None) -> None:
    """onnx.checker, with its message cut to one line; large models are checked from their file.

    Versions newer than the installed onnx knows are refused first: the checker accepts an unknown
    opset silently, and nothing downstream could interpret its ops.
    """
    if model.ir_version > onnx.IR_VERSION:
        raise BadInput(f"{label}: IR version {model.ir_version} is newer than this onnx reads ({onnx.IR_VERSION})")
    newest = onnx.defs.onnx_opset_version()
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version > newest:
            raise BadInput(f"{label}: opset {imp.version} is newer than this onnx knows ({newest})")
    try:
        if model.ByteSize() > PROTOBUF_LIMIT and path is not None:
            onnx.checker.check_model(str(path))
        else:
            onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise BadInput(f"{label}: fails onnx.checker: {first_line(e)}") from None


def check_output_path(out: str, *, force: bool, protected: list[Path]) -> Path:
    """Refuse, before any work, an output that cannot or must not be written."""
    path = Path(out)
    if not path.name or path.is_dir():
        raise OutputError(f"{out}: output must be a file path")
    if not path.parent.resolve().is_dir():
        raise OutputError(f"{out}: folder '{path.parent}' does not exist")
    resolved = path.resolve()
    data_file = resolved.parent / (resolved.name + ".data")
    for p in protected:
        if resolved == p or data_file == p:
            raise OutputError(f"{out}: would overwrite the input model or its data ({p.name}); choose another path")
    if path.exists() and not force:
        raise OutputError(f"{out}: already exists (use --force to overwrite)")
    return resolved


def save(model: onnx.ModelProto, out: str, *, force: bool = False, protected: list[Path] = (),
         external: bool = False) -> Path:
    """Write atomically. With external (or past 2 GB) weights go to OUT.data beside OUT.

    Saving with external data moves the tensors' bytes out of `model` (it is the caller's last use).
    """
    path = check_output_path(out, force=force, protected=list(protected))
    external = external or model.ByteSize() > PROTOBUF_LIMIT
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        tmp_model = Path(tmp) / path.name
        if external:
            data_name = path.name + ".data"
            onnx.save_model(model, str(tmp_model), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=EXTERNAL_THRESHOLD)
            if (Path(tmp) / data_name).exists():
                os.replace(Path(tmp) / data_name, path.parent / data_name)
        else:
            with open(tmp_model, "wb") as f:
                f.write(model.SerializeToString())
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp_model, path)
    return path


def write_text(text: str, out: str) -> Path:
    """Atomically write a small text file (reports); the folder must exist."""
    path = Path(out)
    if not path.parent.resolve().is_dir():
        raise OutputError(f"{out}: folder '{path.parent}' does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
