"""A model's inputs, the sizes a user gives for them, and seeded random feeds.

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
    specs = []
    for vi in model.graph.input:
        if vi.name in weights:
            continue
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
        specs.append(InputSpec(vi.name, tt.elem_type, dims))
    return specs


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
    """Seeded inputs: N(0, 1) floats, small non-negative integers, random booleans."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for s in specs:
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

