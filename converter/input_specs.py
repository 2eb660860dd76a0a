"""A model's inputs, the sizes a user gives for them, and seeded feeds: random data, and meaningful values
for inputs that are a Resize's roi, scales or sizes (random scales fail the run or mean nothing).

A user fixes sizes with `--shape NAME=1x3x64x64`; which sizes symbolic dims take is converter.run_plan's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import onnx

from onnxport.errors import BadArgument, BadInput

MAX_DIM = 2**31 - 1               # no real input is longer on one axis

@dataclass(frozen=True)
class InputSpec:
    name: str
    elem_type: int
    dims: tuple            # int, or str (symbolic name), or None (unnamed unknown)
    resize_role: tuple = ()    # ("roi" | "scales" | "sizes", the Resize's data input, its axes) when it feeds one


RESIZE_PARAMETERS = {1: "roi", 2: "scales", 3: "sizes"}


def parse_shape_args(args: list[str] | None, flag: str = "--shape") -> dict[str, tuple[int, ...]]:
    """['x=1x3x64x64', ...] -> {'x': (1, 3, 64, 64)}; a malformed entry is a BadArgument."""
    shapes = {}
    for arg in args or []:
        m = re.fullmatch(r"([^=]+)=(\d{1,12}(?:[x,]\d{1,12})*)", arg.strip())
        if not m:
            raise BadArgument(f"{flag} '{arg}': expected NAME=DIMS with positive integer dims, e.g. x=1x3x64x64")
        dims = tuple(int(v) for v in re.split(r"[x,]", m.group(2)))
        if min(dims) < 1 or max(dims) > MAX_DIM:
            raise BadArgument(f"{flag} '{arg}': dims must be integers from 1 to {MAX_DIM}")
        shapes[m.group(1)] = dims
    return shapes


def input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    """Graph inputs that are not initializers (IR < 4 models list weights as inputs too)."""
    weights = {i.name for i in model.graph.initializer}
    roles = {}
    for node in model.graph.node:
        if node.op_type == "Resize" and node.domain in ("", "ai.onnx"):
            for position, role in RESIZE_PARAMETERS.items():
                if position < len(node.input) and node.input[position]:
                    axes = next((tuple(a.ints) for a in node.attribute if a.name == "axes"), ())
                    roles.setdefault(node.input[position], (role, node.input[0], axes))
    specs = []
    for vi in model.graph.input:
        if vi.name in weights:
            continue
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
        specs.append(InputSpec(vi.name, tt.elem_type, dims, roles.get(vi.name, ())))
    return specs


def sizes_text(shapes: dict) -> str:
    """{'x': (1, 3, 64, 64), 'y': (2,)} -> 'x=1x3x64x64, y=2': how every message and page writes input sizes."""
    return ", ".join(f"{name}={'x'.join(map(str, dims))}" for name, dims in shapes.items())


def check_overrides(specs: list[InputSpec], overrides: dict[str, tuple[int, ...]], flag: str = "--shape") -> None:
    by_name = {s.name: s for s in specs}
    for name, dims in overrides.items():
        if name not in by_name:
            raise BadArgument(f"{flag} {name}: not a graph input (inputs: {', '.join(by_name) or 'none'})")
        want = by_name[name].dims
        if len(dims) != len(want):
            raise BadArgument(f"{flag} {name}: {len(dims)} dims given, the input has rank {len(want)}")
        for i, (got, fixed) in enumerate(zip(dims, want)):
            if isinstance(fixed, int) and fixed > 0 and got != fixed:
                raise BadArgument(f"{flag} {name}: dim {i} is fixed to {fixed} in the model, {got} given")


MAX_FEED_ELEMENTS = 1 << 28           # per input: 1 GiB of float32; beyond that a size is a typo or hostile


def random_feeds(specs: list[InputSpec], shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs: N(0, 1) floats, small non-negative integers, random booleans; a Resize parameter that
    is an input gets the values of a plain 2x spatial upsampling (_resize_parameter)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for s in specs:
        parameter = _resize_parameter(s, shapes)
        if parameter is not None:
            feeds[s.name] = parameter
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(s.elem_type)
        shape = shapes[s.name]
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=object)) > MAX_FEED_ELEMENTS:
            raise BadInput(f"input {s.name} at {'x'.join(map(str, shape))}: too large (or negative) to feed "
                           f"(at most {MAX_FEED_ELEMENTS} elements); give other sizes with --shape")
        if np.issubdtype(dtype, np.floating):
            value = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            value = rng.random(shape) < 0.5
        else:
            value = rng.integers(0, 4, shape).astype(dtype)
        feeds[s.name] = np.asarray(value)        # a rank-0 draw is a numpy scalar, which onnxruntime refuses
    return feeds


def _resize_parameter(spec: InputSpec, shapes: dict[str, tuple[int, ...]]) -> np.ndarray | None:
    """roi = the whole tensor (0..1), scales = 1 on batch and channels and 2 on the other axes, sizes = the
    data input's shape so scaled (each over the Resize's `axes` where it has them); None where the shape
    given does not fit that reading (then the input is random like any other)."""
    if not spec.resize_role:
        return None
    role, data, axes = spec.resize_role
    shape = shapes[spec.name]
    data_shape = shapes.get(data)
    if len(shape) != 1:
        return None
    length = shape[0] // 2 if role == "roi" else shape[0]
    if not axes:
        axes = tuple(range(length))
    elif data_shape is not None:
        axes = tuple(a % len(data_shape) for a in axes)
    if len(axes) != length or (role == "roi" and shape[0] % 2):
        return None
    dtype = onnx.helper.tensor_dtype_to_np_dtype(spec.elem_type)
    if role == "roi" and np.issubdtype(dtype, np.floating):
        return np.array([0] * length + [1] * length, dtype=dtype)
    if role == "scales" and np.issubdtype(dtype, np.floating):
        return np.array([1.0 if a < 2 else 2.0 for a in axes], dtype=dtype)
    if role == "sizes" and np.issubdtype(dtype, np.integer) and data_shape is not None \
            and all(a < len(data_shape) for a in axes):
        return np.array([data_shape[a] if a < 2 else 2 * data_shape[a] for a in axes], dtype=dtype)
    return None
