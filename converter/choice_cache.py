"""--strategy auto's choices, kept per layer configuration and provider so that conversions agree.

A timing on a busy machine can differ from one on a quiet one; once a layer configuration (input size,
attributes, weight shape, the allowed forms) has been timed on a provider with an onnxruntime version,
later conversions reuse the choice instead of timing again. onnxport writes no file the user did not
name, so the cache is kept only where $ONNXPORT_CACHE_DIR names a folder (one JSON file there; delete
it to time afresh); without it every conversion times (the margin keeps choices stable). A cache that
cannot be read or written is no cache. The file is data, never trusted: only a regular file of at most
MAX_BYTES is read (a FIFO of that name would block for ever), an entry counts only with a strategy among
the forms allowed now and finite timings, and a file there that is not a cache (a model's weights named
auto_strategy.json) is never written over.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
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


MAX_BYTES = 16 << 20


def _read() -> dict | None:
    """The cache's entries; {} where there is no file; None where something that is not a cache is there."""
    if path() is None:
        return {}
    try:
        fd = os.open(path(), os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = json.loads(f.read(MAX_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    return data if isinstance(data, dict) else None


def get(found_key: str, allowed: list[str]) -> dict | None:
    """The entry for this key, where it names an allowed form and finite timings; else None (time afresh)."""
    entry = (_read() or {}).get(found_key)
    if not isinstance(entry, dict) or entry.get("strategy") not in allowed:
        return None
    timings = entry.get("timings_ms")
    valid = isinstance(timings, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for k, v in timings.items())
    return entry if valid else None


def put(found_key: str, entry: dict) -> None:
    """Add the entry, written atomically (a temporary file renamed over the old one)."""
    target = path()
    if target is None:
        return
    data = _read()
    if data is None:                    # not a cache: somebody's file, left alone
        return
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
