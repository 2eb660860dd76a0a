"""Resize (and Upsample) attributes resolved across opsets, and when a nearest Resize is a plain repeat.

Opset 10 Resize and Upsample take (X, scales) and resize nearest as asymmetric + floor; from opset 11
the inputs are (X, roi, scales, sizes) with the coordinate_transformation_mode and nearest_mode
attributes (defaults half_pixel, round_prefer_floor), and opset 18 adds axes, antialias and
keep_aspect_ratio_policy. An output position j maps to input coordinate c(j) and nearest picks
round(c(j)); with an integer scale s the map is j -> i + f(r) for j = s*i + r, so the Resize is a plain
repeat (y[j] = x[floor(j/s)]) exactly when the nearest rounding of f(r) is 0 for every r in [0, s).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from passes._graph import constant_value, known_dims


def _text(value, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class ResizeSpec:
    mode: str
    coordinate_mode: str
    nearest_mode: str
    scales: tuple[float, ...] | None      # one per input axis, when given as a constant
    sizes: tuple[int, ...] | None         # one per input axis, when given as a constant


def resize_spec(node: gs.Node, rank: int) -> ResizeSpec | str:
    """The node's resolved attributes with constant scales or sizes, or why they are not constant."""
    attrs = node.attrs
    if node.op == "Upsample" or len(node.inputs) == 2:       # Upsample-7/9, Resize-10: (X, scales)
        mode = _text(attrs.get("mode"), "nearest")
        coordinate, nearest = "asymmetric", "floor"
        scales_in, sizes_in = node.inputs[1] if len(node.inputs) > 1 else None, None
        if node.op == "Upsample" and "scales" in attrs:
            return ResizeSpec(mode, coordinate, nearest, tuple(float(v) for v in attrs["scales"]), None)
    else:
        mode = _text(attrs.get("mode"), "nearest")
        coordinate = _text(attrs.get("coordinate_transformation_mode"), "half_pixel")
        nearest = _text(attrs.get("nearest_mode"), "round_prefer_floor")
        scales_in = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
        sizes_in = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3].name else None
    axes = [int(a) % rank for a in attrs.get("axes", range(rank))]
    scales = sizes = None
    if scales_in is not None and sizes_in is None:
        value = constant_value(scales_in)
        if value is None:
            return "its scales are computed"
        scales = _full(np.asarray(value, np.float64).ravel(), axes, rank, 1.0)
    elif sizes_in is not None:
        value = constant_value(sizes_in)
        if value is None:
            return "its sizes are computed"
        if _text(attrs.get("keep_aspect_ratio_policy"), "stretch") != "stretch":
            return "keep_aspect_ratio_policy other than stretch"
        sizes = _full(np.asarray(value, np.int64).ravel(), axes, rank, None)
    else:
        return "neither scales nor sizes given"
    return ResizeSpec(mode, coordinate, nearest, scales, sizes)


def _full(values, axes, rank, fill) -> tuple:
    full = [fill] * rank
    for a, v in zip(axes, values):
        full[a] = v.item() if hasattr(v, "item") else v
    return tuple(full)


def repeat_factors(node: gs.Node, rank: int) -> list[int] | str:
    """Integer factors per axis if the Resize is a plain nearest repeat, else why not."""
    spec = resize_spec(node, rank)
    if isinstance(spec, str):
        return spec
    if spec.mode != "nearest":
        return f"mode {spec.mode}, not nearest"
    if node.attrs.get("antialias", 0):
        return "antialias"
    if spec.scales is not None:
        factors = spec.scales
    else:
        lengths = known_dims(node.inputs[0], rank)
        if any(n is None for n in lengths):
            return "its sizes refer to symbolic input sizes"
        factors = tuple(out / n for out, n in zip(spec.sizes, lengths))
    if any(f < 1 or f != int(f) for f in factors):
        return f"scales {list(factors)} are not all integers >= 1"
    factors = [int(f) for f in factors]
    for s in set(factors) - {1}:
        if not all(_round(_offset(spec.coordinate_mode, r, s), spec.nearest_mode) == 0 for r in range(s)):
            return (f"coordinate_transformation_mode {spec.coordinate_mode} with nearest_mode {spec.nearest_mode} "
                    f"does not repeat each sample {s} times")
    return factors


def _offset(coordinate_mode: str, r: int, s: int) -> float:
    """Input coordinate of output s*i + r, minus i (integer scale s; None where it depends on the size)."""
    if coordinate_mode in ("half_pixel", "pytorch_half_pixel", "half_pixel_symmetric"):
        return (r + 0.5) / s - 0.5
    if coordinate_mode == "asymmetric":
        return r / s
    if coordinate_mode == "tf_half_pixel_for_nn":
        return (r + 0.5) / s
    return math.nan      # align_corners, tf_crop_and_resize: depend on the length or the roi


def _round(x: float, nearest_mode: str) -> float:
    if math.isnan(x):
        return math.nan
    if nearest_mode == "floor":
        return math.floor(x)
    if nearest_mode == "ceil":
        return math.ceil(x)
    if nearest_mode == "round_prefer_ceil":
        return math.floor(x + 0.5)
    return math.ceil(x - 0.5)            # round_prefer_floor (the default)
