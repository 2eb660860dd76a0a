"""MNN: the ONNX model is converted with MNN's own converter, then run through its expression API.

A module is loaded per input size: one loaded module run at a second size crashes MNN 3.6 (SIGSEGV on
example:unet3d converted, batch 1 then batch 2), as a deployment that fixes its size never sees.

The compiled converter is called directly: the `mnnconvert` Python wrapper sends usage telemetry to a
remote service and pip-installs a logging SDK to do so, which onnxport must never trigger.

MNN runs at high precision with Winograd off (dense convolution): with its defaults, Winograd's transforms
alone put example:keras_gan2d's 5x5 Convs 3.4e-4 off onnxruntime (bound 2e-4), original and converted
alike, which says nothing about the model's form; dense, both agree to 4e-6.
"""
from __future__ import annotations

import os
import tempfile

import MNN
import numpy as np

CPU = 0                         # MNNForwardType MNN_FORWARD_CPU
WINOGRAD_MEMORY_LEVEL = 3       # Interpreter::HintMode; level 0 selects dense convolution over Winograd


def version() -> str:
    return f"MNN {MNN.version()} (high precision, Winograd off)"


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        import _tools                                  # MNN's compiled tools, registered by `import MNN`
        self.folder = tempfile.TemporaryDirectory(prefix="onnxport-mnn-")
        converted = os.path.join(self.folder.name, "model.mnn")
        _tools.mnnconvert(["mnnconvert", "-f", "ONNX", "--modelFile", path, "--MNNModel", converted,
                           "--bizCode", "onnxport"])
        if not os.path.exists(converted):
            raise RuntimeError("MNN's converter did not convert the model")
        self.converted, self.inputs, self.outputs = converted, inputs, outputs
        self.modules: dict = {}

    def run(self, feeds: dict) -> list:
        key = tuple(feeds[name].shape for name in self.inputs)
        if key not in self.modules:
            manager = MNN.nn.create_runtime_manager(({"backend": CPU, "precision": "high"},))
            manager.set_hint(WINOGRAD_MEMORY_LEVEL, 0)
            self.modules[key] = MNN.nn.load_module_from_file(self.converted, self.inputs, self.outputs,
                                                             runtime_manager=manager)
        variables = []
        for name in self.inputs:
            value = np.ascontiguousarray(feeds[name], np.float32)
            variable = MNN.expr.placeholder(list(value.shape), MNN.expr.NCHW)
            variable.write(value.ravel().tolist())
            variables.append(variable)
        results = self.modules[key].forward(variables)
        results = results if isinstance(results, list) else [results]
        found = []
        for result in results:
            result = MNN.expr.convert(result, MNN.expr.NCHW)
            found.append(np.array(result.read(), np.float32).reshape(result.shape))
        return found
