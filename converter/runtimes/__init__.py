"""Real runtimes beside onnxruntime, each behind one small adapter, each run in a process of its own.

A runtime that lacks an op often crashes rather than refusing (MNN segfaults on some 3-D nets), so the
model runs in a worker process (onnxport.converter.runtimes.worker) that loads it once and answers runs
over a pipe; a crash, a hang (timeout) or an error is a failed run with the runtime's reason, never a
dead onnxport. Each runtime is an optional extra: `pip install 'onnxport[openvino]'` and so on, except
one whose packages clash with onnxport's (onnx2tf pins onnx, numpy and onnxruntime): it runs under the
Python interpreter an environment variable names, in an environment of its own (`INTERPRETER_SETUP`).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from onnxport.errors import BadArgument


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    module: str             # what must import (the runtime's own package)
    title: str
    interpreter_variable: str = ""      # the environment variable naming its own Python, "" for this one
    outputs_through_identity: bool = False      # it loses the name of an output whose node it fuses


INTERPRETER_SETUP = {
    "tflite": "python3.12 -m venv ~/.onnxport-tflite && ~/.onnxport-tflite/bin/pip install onnx2tf==2.6.9, "
              "then export ONNXPORT_TFLITE_PYTHON=~/.onnxport-tflite/bin/python",
}

RUNTIMES = {
    "openvino": RuntimeInfo("openvino", "openvino", "OpenVINO (CPU plugin)"),
    "opencv": RuntimeInfo("opencv", "cv2", "OpenCV DNN"),
    "tract": RuntimeInfo("tract", "tract", "tract (Sonos)"),
    "mnn": RuntimeInfo("mnn", "MNN", "MNN (Alibaba)", outputs_through_identity=True),   # 3.6: a Relu fused into a Conv
    "onnx2torch": RuntimeInfo("onnx2torch", "onnx2torch", "onnx2torch (PyTorch)"),
    "tflite": RuntimeInfo("tflite", "onnx2tf", "TFLite (onnx2tf + LiteRT)", "ONNXPORT_TFLITE_PYTHON"),
}


def info(name: str) -> RuntimeInfo:
    """The runtime, installed; BadArgument naming the extra to install otherwise."""
    if name not in RUNTIMES:
        raise BadArgument(f"unknown runtime '{name}' (runtimes: {', '.join(RUNTIMES)})")
    found = RUNTIMES[name]
    if found.interpreter_variable:
        interpreter(found)
    elif importlib.util.find_spec(found.module) is None:
        raise BadArgument(f"--runtime {name}: {found.title} is not installed (pip install 'onnxport[{name}]')")
    return found


def installed_version(name: str) -> str:
    """The runtime's installed version, read without starting it (--strategy auto's choices are kept per
    version); for one in its own environment, the interpreter that runs it."""
    found = info(name)
    if found.interpreter_variable:
        return interpreter(found)
    from importlib import metadata
    for distribution in metadata.packages_distributions().get(found.module, []):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def interpreter(found: RuntimeInfo) -> str:
    """The Python the runtime's worker runs under: this one, or the one its variable names (checked)."""
    if not found.interpreter_variable:
        return sys.executable
    path = os.path.expanduser(os.environ.get(found.interpreter_variable, ""))
    if not path or not os.access(path, os.X_OK) or os.path.isdir(path):
        raise BadArgument(f"--runtime {found.name}: {found.title} runs in an environment of its own, and "
                          f"{found.interpreter_variable} names no Python ({path or 'unset'}): "
                          f"{INTERPRETER_SETUP[found.name]}")
    return path
