"""TFLite / LiteRT through onnx2tf: the model is converted by onnx2tf at each input size it is run at
(TFLite fixes every spatial size when it converts), then run by LiteRT's interpreter.

Runs in an interpreter of its own (onnx2tf pins onnx, numpy, onnxruntime and protobuf versions that clash
with onnxport's): see converter.runtimes.RUNTIMES. Layout: onnx2tf makes 3-D to 5-D inputs and outputs
channel-last (NHWC, NDHWC). Feeds are transposed to the layout each TFLite input has; each output is
transposed back where its shape is the channel-last form of the ONNX output's. The ONNX output's shape
at that size is read from onnxruntime (which onnx2tf installs), the only thing taken from it; where the
two layouts have the same shape (every spatial size equal to the channel count) the run is refused
rather than guessed.
"""
from __future__ import annotations

import glob
import math
import os
import subprocess
import sys
import tempfile
from importlib import metadata

import numpy as np


def version() -> str:
    return f"TFLite: onnx2tf {metadata.version('onnx2tf')} + LiteRT {metadata.version('ai-edge-litert')}"


def channel_last(shape: tuple) -> tuple:
    return (shape[0], *shape[2:], shape[1]) if len(shape) >= 3 else tuple(shape)


def to_channel_last(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, (0, *range(2, x.ndim), 1)) if x.ndim >= 3 else x


def to_channel_first(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, (0, x.ndim - 1, *range(1, x.ndim - 1))) if x.ndim >= 3 else x


CONVERT_TIMEOUT = 540     # under the session's 600 s, so onnx2tf is stopped here, not left running


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        self.path, self.inputs, self.outputs = path, inputs, outputs
        self.reference = None       # an onnxruntime session, for the ONNX outputs' shapes only
        self.folder = tempfile.mkdtemp(prefix="tflite-", dir=os.path.dirname(os.path.abspath(path)))  # goes with the session
        self.converted: dict = {}

    def _interpreter(self, feeds: dict):
        key = tuple((name, feeds[name].shape) for name in self.inputs)
        if key not in self.converted:
            out = os.path.join(self.folder, str(len(self.converted)))
            fixed = self._fixed_copy(dict(key), out)
            try:
                done = subprocess.run([sys.executable, "-m", "onnx2tf", "-i", fixed, "-o", out, "-n"],
                                      capture_output=True, text=True, timeout=CONVERT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"onnx2tf did not convert the model in {CONVERT_TIMEOUT} s") from None
            found = glob.glob(os.path.join(out, "*_float32.tflite"))
            if done.returncode != 0 or not found:
                lines = [line for line in (done.stderr + done.stdout).splitlines() if "ERROR" in line] or ["no .tflite"]
                raise RuntimeError(f"onnx2tf does not convert the model: {lines[0].strip()[:300]}")
            from ai_edge_litert.interpreter import Interpreter
            interpreter = Interpreter(model_path=found[0])
            interpreter.allocate_tensors()
            self.converted[key] = interpreter
        return self.converted[key]

    def _fixed_copy(self, shapes: dict, folder: str) -> str:
        """The model with its inputs at these sizes: onnx2tf bakes sizes into its ops (a ConvTranspose's
        output shape), and its own --overwrite_input_shape misreads a size of 1."""
        import onnx
        model = onnx.load(self.path)
        for graph_input in model.graph.input:
            if graph_input.name in shapes:
                for dim, size in zip(graph_input.type.tensor_type.shape.dim, shapes[graph_input.name]):
                    dim.Clear()
                    dim.dim_value = size
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "model.onnx")
        onnx.save(model, path)
        return path

    def _onnx_shapes(self, feeds: dict) -> list[tuple]:
        if self.reference is None:
            import onnxruntime as ort
            options = ort.SessionOptions()
            options.log_severity_level = 4
            self.reference = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        return [r.shape for r in self.reference.run(self.outputs, feeds)]

    def run(self, feeds: dict) -> list:
        interpreter = self._interpreter(feeds)
        values = {}
        for detail in interpreter.get_input_details():
            value = feeds[detail["name"]]
            channel_last_ = tuple(detail["shape_signature"]) != value.shape and len(detail["shape"]) == value.ndim \
                and all(s in (-1, v) for s, v in zip(detail["shape_signature"], channel_last(value.shape)))
            values[detail["index"]] = np.ascontiguousarray(to_channel_last(value) if channel_last_ else value,
                                                           dtype=detail["dtype"])
            if tuple(detail["shape"]) != values[detail["index"]].shape:      # a batch left free (-1)
                interpreter.resize_tensor_input(detail["index"], values[detail["index"]].shape)
        interpreter.allocate_tensors()
        for index, value in values.items():
            interpreter.set_tensor(index, value)
        interpreter.invoke()
        details = interpreter.get_output_details()
        by_name = {d["name"]: d for d in details}
        ordered = [by_name[n] for n in self.outputs] if all(n in by_name for n in self.outputs) else details
        return [_channel_first_where_needed(name, interpreter.get_tensor(d["index"]), shape)
                for name, d, shape in zip(self.outputs, ordered, self._onnx_shapes(feeds))]


def _channel_first_where_needed(name: str, value: np.ndarray, shape: tuple) -> np.ndarray:
    """The TFLite output in the ONNX output's layout."""
    if value.ndim >= 3 and shape == channel_last(shape) and value.shape == shape:
        raise RuntimeError(f"output {name}: shape {shape} reads the same channel-first and channel-last, so its "
                           f"layout is unknown; run at another size")
    if value.shape == shape:
        return value
    if value.size == 1 and math.prod(shape) == 1:       # a scalar TFLite gives as (1,)
        return value.reshape(shape)
    if value.shape == channel_last(shape):
        return to_channel_first(value)
    raise RuntimeError(f"output {name}: TFLite gives shape {value.shape}, ONNX {shape}")
