"""onnx2torch: the ONNX model becomes a torch.fx GraphModule and runs in PyTorch (eager, CPU, float32).

What a user porting a net back to PyTorch runs; converted once, it takes any input size the model does.
"""
from __future__ import annotations

from importlib import metadata

import onnx
import onnx2torch
import torch


def version() -> str:
    return f"onnx2torch {metadata.version('onnx2torch')} (torch {torch.__version__})"


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        self.module = onnx2torch.convert(onnx.load(path)).eval()
        self.inputs = inputs

    def run(self, feeds: dict) -> list:
        with torch.inference_mode():
            results = self.module(*[torch.from_numpy(feeds[name]) for name in self.inputs])
        results = results if isinstance(results, (list, tuple)) else [results]
        return [r.numpy() for r in results]
