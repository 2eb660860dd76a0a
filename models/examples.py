"""The example nets a user can name as `example:NAME` wherever a model path is expected."""
from __future__ import annotations

import sys
from typing import Callable

import onnx

from onnxport.models import ddae, gan3d, keras_gan2d, lenet, unet3d, wolfram

EXAMPLES: dict[str, Callable[[], onnx.ModelProto]] = {
    "gan3d": gan3d.build,
    "unet3d": unet3d.build,
    "keras_gan2d": keras_gan2d.build,
    "ddae": ddae.build,
    "lenet": lenet.build,
    "wolfram_resize3d": wolfram.build,
    "wolfram_resize3d_nearest": wolfram.build_nearest,
}


def build(name: str) -> onnx.ModelProto:
    return EXAMPLES[name]()


def describe(name: str) -> str:
    """First line of the builder's (or its module's) docstring, without a leading 'name:'."""
    builder = EXAMPLES[name]
    doc = builder.__doc__ if builder.__doc__ and builder.__name__ != "build" else sys.modules[builder.__module__].__doc__
    first = (doc or "").strip().splitlines()[0]
    return first.split(": ", 1)[1] if first.startswith(name + ":") else first
