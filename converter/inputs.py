"""Concrete input sizes and random feeds for running a model whose dims may be symbolic.

A user fixes sizes with `--shape NAME=1x3x64x64`. Where dims stay symbolic, onnxport tries sizes in
turn: the first axis of an input (the batch) takes 1, 2, 3 in successive runs; every other symbolic
dim takes a base size (different dims get different sizes, multiples of 8 first, so U-shaped nets with
pooling fit, and sizes up to 48, larger than typical export sizes) and a fallback list covers nets that
need other sizes. Dims with the same name always get the same size.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import onnx

from converter.errors import BadArgument, BadInput

BASE_SIZES = (16, 24, 32, 8, 12, 20, 28, 40, 48, 5, 6, 7, 9, 10, 11, 13, 15, 17, 3, 4, 2, 1)
BATCH_SIZES = (1, 2, 3)


@dataclass(frozen=True)
class InputSpec:
    name: str
    elem_type: int
    dims: tuple            # int, or str (symbolic name), or None (unnamed unknown)


def parse_shape_args(args: list[str] | None) -> dict[str, tuple[int, ...]]:
    """['x=1x3x64x64', ...] -> {'x': (1, 3, 64, 64)}; a malformed entry is a BadArgument."""
    shapes = {}
    for arg in args or []:
        m = re.fullmatch(r"([^=]+)=(\d+(?:[x,]\d+)*)", arg.strip())
        if not m:
            raise BadArgument(f"--shape '{arg}': expected NAME=DIMS with positive integer dims, e.g. x=1x3x64x64")
        dims = tuple(int(v) for v in re.split(r"[x,]", m.group(2)))
        if min(dims) < 1:
            raise BadArgument(f"--shape '{arg}': dims must be positive integers")
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


def size_candidates(specs: list[InputSpec], overrides: dict[str, tuple[int, ...]], runs: int = 1,
                    hints: dict | None = None):
    """Yield, run by run, the alternatives to try for that run: lists of {input name: shape}.

    A caller takes the first alternative the model runs at. With nothing symbolic there are `runs` runs
    of the same sizes (the caller draws new values); otherwise one run per base size, at most. hints
    maps a dim (its name, or "input:axis") to admissible sizes (minimum, step) from converter.sizes:
    such a dim takes the next admissible size, and run r at least minimum + r*step.
    """
    symbolic = []
    for s in specs:
        if s.name in overrides:
            continue
        for axis, d in enumerate(s.dims):
            if not isinstance(d, int) or d <= 0:
                key = dim_key(s, axis)
                if key not in [k for k, _ in symbolic]:
                    symbolic.append((key, axis == 0))
    if not symbolic:
        for _ in range(runs):
            yield [_assign(specs, overrides, {})]
        return
    spatial = [k for k, is_batch in symbolic if not is_batch]
    batch = [k for k, is_batch in symbolic if is_batch]
    for run, base in enumerate(BASE_SIZES):
        alternatives = []
        for spread in ((8, 0) if len(spatial) > 1 else (0,)):   # distinct sizes per dim first, then one
            values = {k: _admissible(base + spread * i, run, (hints or {}).get(k)) for i, k in enumerate(spatial)}
            values.update({k: BATCH_SIZES[run % len(BATCH_SIZES)] for k in batch})
            alternatives.append(_assign(specs, overrides, values))
        yield alternatives


def dim_key(spec: InputSpec, axis: int) -> str:
    """How size_candidates names a symbolic dim: its dim name, else "input:axis"."""
    d = spec.dims[axis]
    return d if isinstance(d, str) else f"{spec.name}:{axis}"


def _admissible(size: int, run: int, hint) -> int:
    if hint is None:
        return size
    minimum, step = hint
    if not step:
        return minimum
    wanted = max(size, minimum + step * run)
    return minimum + step * -(-(wanted - minimum) // step)


def _assign(specs, overrides, values) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for s in specs:
        if s.name in overrides:
            shapes[s.name] = tuple(overrides[s.name])
            continue
        shapes[s.name] = tuple(d if isinstance(d, int) and d > 0 else values[dim_key(s, i)] for i, d in enumerate(s.dims))
    return shapes


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
            feeds[s.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[s.name] = rng.random(shape) < 0.5
        else:
            feeds[s.name] = rng.integers(0, 4, shape).astype(dtype)
    return feeds

