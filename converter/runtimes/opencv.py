"""OpenCV's DNN module. It fixes every shape when the net is read, so a net is read per input size."""
from __future__ import annotations

import cv2
import numpy as np


def version() -> str:
    return f"OpenCV {cv2.__version__}"


class Model:
    def __init__(self, path: str, inputs: list[str], outputs: list[str]):
        self.path, self.outputs = path, outputs
        self.nets: dict = {}

    def run(self, feeds: dict) -> list:
        key = tuple((name, value.shape) for name, value in sorted(feeds.items()))
        if key not in self.nets:
            self.nets[key] = cv2.dnn.readNetFromONNX(self.path)
        net = self.nets[key]
        for name, value in feeds.items():
            net.setInput(value, name)
        return [np.asarray(out) for out in net.forward(self.outputs)]
