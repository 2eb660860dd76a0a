"""--strategy auto's choices, kept per layer configuration and provider so that conversions agree.

A timing on a busy machine can differ from one on a quiet one; once a layer configuration (input size,
attributes, weight shape, the allowed forms) has been timed on a provider with an onnxruntime version,
later conversions reuse the choice instead of timing again. onnxport writes no file the user did not
name, so the cache is kept only where $ONNXPORT_CACHE_DIR names a folder (one JSON file there; delete
it to time afresh); without it every conversion times (the margin keeps choices stable). A cache that
cannot be read or written is no cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import onnx
from onnx import helper

from onnxport.converter import runtime

FILE_NAME = "auto_strategy.json"


def path() -> Path | None:
    """The cache file, or None when the user named no cache folder."""
    base = os.environ.get("ONNXPORT_CACHE_DIR")
    return Path(base) / FILE_NAME if base else None


def key(one: onnx.ModelProto, allowed: list[str], provider: str) -> str:
    """What decides the timing of a one-ConvTranspose model: not its weights' values."""
    node = one.graph.node[0]
    config = {
        "input": [d.dim_value for d in one.graph.input[0].type.tensor_type.shape.dim],
        "attributes": sorted((a.name, str(helper.get_attribute_value(a))) for a in node.attribute),
        "inputs": [list(i.dims) for i in one.graph.initializer],
        "forms": list(allowed), "provider": provider, "onnxruntime": runtime.onnxruntime().__version__,
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _read() -> dict:
    if path() is None:
        return {}
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def get(found_key: str) -> dict | None:
    entry = _read().get(found_key)
    valid = isinstance(entry, dict) and isinstance(entry.get("strategy"), str) and isinstance(entry.get("timings_ms"), dict)
    return entry if valid else None


def put(found_key: str, entry: dict) -> None:
    """Add the entry, written atomically (a temporary file renamed over the old one)."""
    target = path()
    if target is None:
        return
    data = _read()
    data[found_key] = entry
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".auto_strategy.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(temporary, target)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
