"""OpenVINO's CPU plugin, at float32 (its default precision hint may be bf16 on CPUs that have it)."""
from __future__ import annotations

import openvino as ov


def version() -> str:
    return f"OpenVINO {ov.__version__}"


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        self.outputs = outputs

    def run(self, feeds: dict) -> list:
        result = self.compiled(feeds)
        return [result[self.compiled.output(name)] for name in self.outputs]
