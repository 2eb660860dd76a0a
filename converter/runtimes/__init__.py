"""Real runtimes beside onnxruntime, each behind one small adapter, each run in a process of its own.

A runtime that lacks an op often crashes rather than refusing (MNN segfaults on some 3-D nets), so the
model runs in a worker process (onnxport.converter.runtimes.worker) that loads it once and answers runs
over a pipe; a crash, a hang (timeout) or an error is a failed run with the runtime's reason, never a
dead onnxport. Each runtime is an optional extra: `pip install 'onnxport[openvino]'` and so on.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from onnxport.errors import BadArgument


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    module: str             # what must import (the runtime's own package)
    title: str


RUNTIMES = {
    "openvino": RuntimeInfo("openvino", "openvino", "OpenVINO (CPU plugin)"),
    "opencv": RuntimeInfo("opencv", "cv2", "OpenCV DNN"),
    "tract": RuntimeInfo("tract", "tract", "tract (Sonos)"),
    "mnn": RuntimeInfo("mnn", "MNN", "MNN (Alibaba)"),
    "onnx2torch": RuntimeInfo("onnx2torch", "onnx2torch", "onnx2torch (PyTorch)"),
}


def info(name: str) -> RuntimeInfo:
    """The runtime, installed; BadArgument naming the extra to install otherwise."""
    if name not in RUNTIMES:
        raise BadArgument(f"unknown runtime '{name}' (runtimes: {', '.join(RUNTIMES)})")
    found = RUNTIMES[name]
    if importlib.util.find_spec(found.module) is None:
        raise BadArgument(f"--runtime {name}: {found.title} is not installed (pip install 'onnxport[{name}]')")
    return found
