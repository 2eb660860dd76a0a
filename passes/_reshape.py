"""Where a Reshape puts each factor of its input: the arithmetic behind freeing sizes through Reshapes.

A Reshape keeps the row-major order of elements, so an input dim (or a factor of a merged dim) whose
inner stride is I and whose length is v lands inside the output dim j whose own inner stride J_j
divides I and whose span J_j * out_j is a multiple of I * v. That places a factor exactly, except
when its length is 1 at the exported size (the batch of a batch-1 export): then several output dims
qualify, and a size-1 output dim at that point is the one an exporter writes for it (an unflatten
(n*d, c, h, w) -> (n, d, c, h, w) at n = 1 has the target (1, d, c, h, w)).
"""
from __future__ import annotations

import math


def resolve_target(target: list[int], shape: list[int], allowzero: bool = False) -> list[int]:
    """The Reshape target with 0 (copy the input dim) and -1 (infer) replaced by the sizes they stand for."""
    dims = [shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(shape) // known if known else 0
    return dims


def inner_strides(dims: list[int]) -> list[int]:
    """Per dim: the product of the dims after it."""
    strides, running = [], 1
    for d in reversed(dims):
        strides.append(running)
        running *= d
    return strides[::-1]


def place(inner: int, length: int, out_dims: list[int], taken: set[int] = frozenset()) -> int | None:
    """The output dim that holds a factor of the given inner stride and length, or None when the
    Reshape splits it across dims. Among several (length 1), a free size-1 dim is preferred."""
    strides = inner_strides(out_dims)
    if inner * length <= 0:
        return None                     # a zero-length tensor: nothing to place
    fits = [j for j, (stride, d) in enumerate(zip(strides, out_dims))
            if d > 0 and stride > 0 and inner % stride == 0 and (stride * d) % (inner * length) == 0]
    if len(fits) > 1:
        unit = [j for j in fits if out_dims[j] == 1 and j not in taken]
        return unit[0] if unit else fits[0]
    return fits[0] if fits else None
