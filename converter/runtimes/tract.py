"""tract (Sonos' Rust runtime): the input facts are set per input size, then the model is typed and run."""
from __future__ import annotations

import tract
from importlib import metadata

TYPES = {"float32": "f32", "float16": "f16", "float64": "f64", "int64": "i64", "int32": "i32", "int8": "i8",
         "uint8": "u8", "bool": "bool"}


def version() -> str:
    return f"tract {metadata.version('tract')}"


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        self.path, self.outputs = path, outputs
        self.runnables: dict = {}

    def run(self, feeds: dict) -> list:
        key = tuple((name, value.shape) for name, value in sorted(feeds.items()))
        if key not in self.runnables:
            model = tract.onnx().load(self.path)
            names = [model.input_name(i) for i in range(model.input_count())]
            for i, name in enumerate(names):
                value = feeds[name]
                model.set_input_fact(i, ",".join(map(str, value.shape)) + "," + TYPES[str(value.dtype)])
            self.runnables[key] = (model.into_model().into_runnable(), names)
        runnable, names = self.runnables[key]
        # tract names outputs after their nodes, in the graph's output order: taken in that order
        return [value.to_numpy() for value in runnable.run([feeds[n] for n in names])]
