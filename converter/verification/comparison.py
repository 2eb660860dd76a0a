"""Comparing two outputs: an output passes when shapes and dtypes match and max|a-b| <= atol + rtol*max|a|
(a from the first model, NaN/inf only where the first model has them), with where the worst error sits
and how the errors spread (per decade, for the pictures); how a conversion that changes the layout on
purpose lines its outputs up with the original's (Alignment); per-output tolerances.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

@dataclass
class OutputCheck:
    name: str
    ok: bool
    max_abs_error: float
    max_abs_reference: float
    bound: float
    note: str = ""
    worst_at: list[int] | None = None       # index of the largest |a-b|
    histogram: dict | None = None           # error_histogram(): how the |a-b| are spread, for pictures

    @property
    def ratio(self) -> float:
        return self.max_abs_error / self.bound if self.bound > 0 else float("inf") if self.max_abs_error else 0.0


@dataclass(frozen=True)
class Alignment:
    """How the second model's outputs line up with the first's when a conversion changes their layout
    on purpose: a fully convolutional head adds trailing 1x1 dims; a dense (stride 1) net computes every
    position, of which every stride-th is the original's. lossless: the two agree only where no layer
    drops a border sample (a dense or pad-to-valid net), so sizes are drawn from that set."""

    unit_dims: bool = False
    strides: tuple[int, ...] = ()
    lossless: bool = False

    def apply(self, ref: np.ndarray, got: np.ndarray) -> np.ndarray:
        if self.strides and got.ndim >= len(self.strides):
            index = (Ellipsis,) + tuple(slice(None, None, s) for s in self.strides)
            got = got[index]
        if self.unit_dims and got.shape != ref.shape and got.shape[:ref.ndim] == ref.shape \
                and all(d == 1 for d in got.shape[ref.ndim:]):
            got = got.reshape(ref.shape)
        return got


def compare(name: str, ref: np.ndarray, got: np.ndarray, atol: float, rtol: float,
            alignment: Alignment = Alignment()) -> OutputCheck:
    got = alignment.apply(ref, got)
    if ref.shape != got.shape or ref.dtype != got.dtype:
        return OutputCheck(name, False, float("inf"), 0.0, 0.0,
                           f"shape/dtype {got.shape} {got.dtype} instead of {ref.shape} {ref.dtype}")
    a, b = ref.astype(np.float64), got.astype(np.float64)
    if a.size == 0:
        return OutputCheck(name, True, 0.0, 0.0, atol)
    finite = np.isfinite(a)
    if not finite.any():          # inf == inf everywhere proves nothing about the rewrite
        return OutputCheck(name, False, float("inf"), 0.0, 0.0, "the first model's output has no finite value "
                                                                  "at these inputs: nothing to compare")
    if not np.array_equal(np.isnan(a), np.isnan(b)) or not np.array_equal(a[np.isinf(a)], b[np.isinf(a)]):
        return OutputCheck(name, False, float("inf"), 0.0, 0.0, "NaN/inf in different places")
    ref_max = float(np.max(np.abs(a[finite])))
    diff = np.where(finite, np.abs(a - b), 0.0)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    err = float(diff[worst]) if diff.ndim else float(diff)
    bound = atol + rtol * ref_max
    return OutputCheck(name, err <= bound, err, ref_max, bound, worst_at=[int(i) for i in worst],
                       histogram=error_histogram(diff[finite]))


HISTOGRAM_EDGES = [10.0 ** k for k in range(-12, 3)]      # decades 1e-12 .. 1e2


def error_histogram(errors: np.ndarray) -> dict:
    """|a-b| counted per decade: `exact` zeros, then counts[i] for edges[i-1] <= e < edges[i] (counts[0]:
    above 0 and below edges[0]; the last: edges[-1] and up)."""
    nonzero = errors[errors > 0]
    counts = np.bincount(np.searchsorted(HISTOGRAM_EDGES, nonzero, side="right"), minlength=len(HISTOGRAM_EDGES) + 1)
    return {"exact": int(errors.size - nonzero.size), "edges": HISTOGRAM_EDGES, "counts": [int(c) for c in counts]}


@dataclass(frozen=True)
class Tolerance:
    """atol + rtol*max|a| per output: the defaults, and any output's own (verify --atol NAME=...)."""

    atol: float = 1e-4
    rtol: float = 1e-4
    per_output: tuple = ()          # (name, atol, rtol)

    def of(self, name: str) -> tuple[float, float]:
        return next(((a, r) for n, a, r in self.per_output if n == name), (self.atol, self.rtol))
