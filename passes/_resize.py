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

from onnxport.passes._graph import constant_value, known_dims

# attributes that shape the interpolation itself, with their defaults (opset 11+); copied to stage Resizes
INTERPOLATION = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor",
                 "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0, "antialias": 0}


def _text(value, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class ResizeSpec:
    """A Resize with every per-axis quantity expanded to the input's full rank."""

    attrs: dict                               # INTERPOLATION keys, resolved
    scales: tuple[float, ...] | None          # constant scales, one per axis
    sizes: tuple[int | None, ...] | None      # constant sizes, one per axis (None: axis not resized)
    roi: tuple[float, ...] | None             # 2*rank values, for tf_crop_and_resize
    scales_tensor: gs.Tensor | None           # computed scales (len(axes) entries)
    sizes_tensor: gs.Tensor | None            # computed sizes (len(axes) entries)
    axes: tuple[int, ...]

    @property
    def mode(self) -> str:
        return self.attrs["mode"]


def resize_spec(node: gs.Node, rank: int) -> ResizeSpec | str:
    """The node's resolved attributes and per-axis scales/sizes, or why it cannot be read."""
    a = node.attrs
    attrs = {k: a.get(k, v) for k, v in INTERPOLATION.items()}
    attrs = {k: _text(v, "") if isinstance(v, (str, bytes)) else v for k, v in attrs.items()}
    if node.op == "Upsample" or len(node.inputs) == 2:       # Upsample-7/9, Resize-10: (X, scales)
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        if node.op == "Upsample" and "scales" in a:
            return ResizeSpec(attrs, tuple(float(v) for v in a["scales"]), None, None, None, None, tuple(range(rank)))
        scales_in, sizes_in, roi_in = node.inputs[1], None, None
    else:
        roi_in = node.inputs[1] if len(node.inputs) > 1 and node.inputs[1].name else None
        scales_in = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
        sizes_in = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3].name else None
    axes = tuple(int(v) % rank for v in a.get("axes", range(rank)))
    roi = None
    if roi_in is not None and attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        value = constant_value(roi_in)
        if value is None:
            return "its roi is computed"
        roi = _full_roi(np.asarray(value, np.float64).ravel(), axes, rank)
    if _text(a.get("keep_aspect_ratio_policy"), "stretch") != "stretch":
        return _aspect_ratio_as_scales(node, attrs, sizes_in, axes, rank, roi)
    scales = sizes = scales_tensor = sizes_tensor = None
    values = constant_value(sizes_in) if sizes_in is not None else None
    if sizes_in is not None:
        sizes = _full(np.asarray(values, np.int64).ravel(), axes, rank, None) if values is not None else None
        sizes_tensor = sizes_in if values is None else None
    elif scales_in is not None:
        values = constant_value(scales_in)
        scales = _full(np.asarray(values, np.float64).ravel(), axes, rank, 1.0) if values is not None else None
        scales_tensor = scales_in if values is None else None
    else:
        return "neither scales nor sizes given"
    return ResizeSpec(attrs, scales, sizes, roi, scales_tensor, sizes_tensor, axes)


def sizes_parts(sizes: gs.Tensor) -> list[tuple[gs.Tensor, np.ndarray | None]] | None:
    """A sizes vector as its parts: (tensor, its constant int64 values or None where computed). Exporters
    write sizes as one constant or as Concat(Shape(x)[:2], (16, 16, 16)); None for any other form, or a
    computed part of unknown length."""
    value = constant_value(sizes)
    if value is not None:
        return [(sizes, np.asarray(value, np.int64).ravel())]
    node = sizes.inputs[0] if len(sizes.inputs) == 1 else None
    if node is None or node.op != "Concat" or node.attrs.get("axis", 0) not in (0, -1):
        return None
    parts = []
    for part in node.inputs:
        value = constant_value(part)
        if value is None and (part.shape is None or len(part.shape) != 1 or not isinstance(part.shape[0], int)):
            return None
        parts.append((part, None if value is None else np.asarray(value, np.int64).ravel()))
    return parts


def sizes_entries(sizes: gs.Tensor, x: gs.Tensor) -> list[int | tuple[int] | None] | None:
    """Per entry of a sizes vector: its constant value, (k,) where it reads dim k of the Resize input x
    (a Slice of Shape(x), as exporters and passes.free_baked_sizes write a kept length), None where
    computed otherwise; None when the vector's form cannot be read (sizes_parts)."""
    parts = sizes_parts(sizes)
    if parts is None:
        return None
    entries = []
    for part, values in parts:
        if values is not None:
            entries += [int(v) for v in values]
            continue
        dims = _shape_dims_read(part, x)
        entries += [(k,) for k in dims] if dims is not None and len(dims) == part.shape[0] else [None] * part.shape[0]
    return entries


def _shape_dims_read(part: gs.Tensor, x: gs.Tensor) -> list[int] | None:
    """The dims of x that Slice(Shape(x), start, end) reads (step 1), else None."""
    node = part.inputs[0] if len(part.inputs) == 1 else None
    if node is None or node.op != "Slice" or len(node.inputs) < 3:
        return None
    shape_of = node.inputs[0]
    shape = shape_of.inputs[0] if len(shape_of.inputs) == 1 else None
    if shape is None or shape.op != "Shape" or shape.inputs[0] is not x or shape.attrs.get("start", 0) != 0 \
            or "end" in shape.attrs:
        return None
    starts, ends = (constant_value(t) for t in node.inputs[1:3])
    axes = constant_value(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3].name else [0]
    steps = constant_value(node.inputs[4]) if len(node.inputs) > 4 and node.inputs[4].name else [1]
    rank = len(x.shape) if x.shape is not None else shape_of.shape[0] if shape_of.shape else None
    if starts is None or ends is None or axes is None or steps is None or not isinstance(rank, int) \
            or np.ravel(axes).tolist() not in ([0], [-1]) or np.ravel(steps).tolist() != [1]:
        return None
    return list(range(rank))[int(np.ravel(starts)[0]):int(np.ravel(ends)[0])]


def image_size_home(value: int, axis: int, images: list[tuple[str, list]]) -> str | None:
    """The graph input whose size a constant Resize size stands for, as strip-sizes frees it and the size
    analysis reads it: the first input of the same rank exported at `value` on that spatial axis (a
    resize back to the image's size, F.interpolate(size=x.shape[2:]), which a fixed-size export bakes in);
    None for a size of its own (a resample to a fixed 32 stays 32). images: (name, exported dims, None
    where not fixed at export), of the Resize's rank."""
    if axis < 2:
        return None
    return next((name for name, dims in images if dims[axis] == value), None)


def _aspect_ratio_as_scales(node, attrs, sizes_in, axes, rank, roi) -> ResizeSpec | str:
    """keep_aspect_ratio_policy picks one scale for every listed axis and rounds the sizes half up; with
    static input sizes that is a plain scales Resize whenever floor(scale*n) is that rounded size."""
    values = constant_value(sizes_in) if sizes_in is not None else None
    lengths = known_dims(node.inputs[0], rank)
    if values is None or any(lengths[a] is None for a in axes):
        return "keep_aspect_ratio_policy with computed sizes or symbolic input sizes"
    policy = _text(node.attrs.get("keep_aspect_ratio_policy"), "stretch")
    ratios = [np.float32(v) / np.float32(lengths[a]) for v, a in zip(np.ravel(values), axes)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)    # float32 arithmetic, as runtimes do it
    products = [scale * np.float32(lengths[a]) for a in axes]
    if any(math.floor(p + np.float32(0.5)) != math.floor(p) for p in products):
        return "keep_aspect_ratio_policy rounds a size up, which a scales Resize cannot reproduce"
    scales = tuple(float(scale) if i in axes else 1.0 for i in range(rank))
    return ResizeSpec(attrs, scales, None, roi, None, None, axes)


def _full(values, axes, rank, fill) -> tuple:
    full = [fill] * rank
    for a, v in zip(axes, values):
        full[a] = v.item() if hasattr(v, "item") else v
    return tuple(full)


def _full_roi(values, axes, rank) -> tuple[float, ...]:
    starts, ends = [0.0] * rank, [1.0] * rank
    for i, a in enumerate(axes):
        starts[a], ends[a] = float(values[i]), float(values[len(axes) + i])
    return tuple(starts + ends)


def repeat_factors(node: gs.Node, rank: int) -> list[int] | str:
    """Integer factors per axis if the Resize is a plain nearest repeat, else why not."""
    spec = resize_spec(node, rank)
    if isinstance(spec, str):
        return spec
    if spec.mode != "nearest":
        return f"mode {spec.mode}, not nearest"
    if spec.scales is not None:
        factors = spec.scales
    else:
        lengths = known_dims(node.inputs[0], rank)
        if spec.sizes is None or any(n is None for n in lengths):
            return "its sizes are computed or refer to symbolic input sizes"
        factors = tuple(1.0 if out is None else out / n for out, n in zip(spec.sizes, lengths))
    if any(f < 1 or f != int(f) for f in factors):
        return f"scales {list(factors)} are not all integers >= 1"
    factors = [int(f) for f in factors]
    coordinate, nearest = spec.attrs["coordinate_transformation_mode"], spec.attrs["nearest_mode"]
    for s in set(factors) - {1}:
        if not all(_round(_offset(coordinate, r, s), nearest) == 0 for r in range(s)):
            return (f"coordinate_transformation_mode {coordinate} with nearest_mode {nearest} "
                    f"does not repeat each sample {s} times")
    return factors


def _offset(coordinate_mode: str, r: int, s: int) -> float:
    """Input coordinate of output s*i + r, minus i (integer scale s; NaN where it depends on the size)."""
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
