"""The example nets a user can name as `example:NAME` wherever a model path is expected."""
from __future__ import annotations

import sys
from typing import Callable

import onnx

from models import gan3d, keras_gan2d, unet3d

EXAMPLES: dict[str, Callable[[], onnx.ModelProto]] = {
    "gan3d": gan3d.build,
    "unet3d": unet3d.build,
    "keras_gan2d": keras_gan2d.build,
}


def build(name: str) -> onnx.ModelProto:
    return EXAMPLES[name]()


def describe(name: str) -> str:
    """First line of the builder module's docstring, without its leading 'name:'."""
    module = sys.modules[EXAMPLES[name].__module__]
    first = (module.__doc__ or "").strip().splitlines()[0]
    return first.split(": ", 1)[1] if first.startswith(name + ":") else first
