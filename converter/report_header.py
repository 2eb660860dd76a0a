"""What every JSON report starts with: its schema number and the versions of what made it."""
from __future__ import annotations

import platform
from importlib import metadata

import onnx

from onnxport.converter import runtime

SCHEMA = 2          # 2: versions, ok and summary in every report; runs say why their sizes were chosen


def header() -> dict:
    """The schema number and the versions of what made a report."""
    return {"schema": SCHEMA, "versions": {"onnxport": version("onnxport") or "checkout", "onnx": onnx.__version__,
                                           "onnxruntime": runtime.onnxruntime().__version__,
                                           "python": platform.python_version()}}


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
