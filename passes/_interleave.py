"""Depth-to-space for N spatial axes, one axis at a time, every view of rank <= 4.

Input z: (N, G * R_0 * ... * R_{n-1} * C, Q_0, ..., Q_{n-1}) with channels ordered (group, phase_0, ...,
phase_{n-1}, c), where R_a are the active phases of axis a (a subset of 0..s_a-1). Output:
(N, G*C, s_0*Q_0, ..., s_{n-1}*Q_{n-1}) with y[..., s*q + r, ...] = z[phase r, q], and zero where a
phase is inactive. With only phase 0 active on every axis this is zero insertion (x at s*q, zeros
between), which the resize-conv lowering uses. Identity used, axis a from last to first: viewing the current tensor as
(A, R_a, B, T) with B = C*Q_0*...*Q_a and T the already interleaved trailing axes, swapping the two
middle axes puts the phase right after Q_a, which is the interleave of that axis. Each step moves a
single axis, the one pattern onnxruntime's Transpose is fast at, and no view exceeds rank 4, so the
chain fits every rank budget >= 4.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import Dim, GraphBuilder


@dataclass(frozen=True)
class PhaseAxis:
    stride: int
    active: tuple[int, ...]     # sorted active phases; len(active) channels per axis in z


def interleave(b: GraphBuilder, z: gs.Tensor, groups: int, channels: int, axes: list[PhaseAxis]) -> gs.Tensor:
    """z (grouped phase channels) -> interleaved output, shapes taken from z where symbolic."""
    n = len(axes)
    if all(a.stride == 1 for a in axes):
        return z
    # Dims of z: 0 = N, 2 + a = Q_a. Every view is a product of these and constants.
    phases = [len(a.active) for a in axes]
    widths = [Dim(1, (2 + a,)) for a in range(n)]              # current length of each spatial axis
    x = z
    for a in reversed(range(n)):
        axis = axes[a]
        if axis.stride == 1:
            continue
        lead = Dim(groups * int(np.prod(phases[:a], dtype=np.int64)), (0,))
        inner = Dim(channels * int(np.prod([w.const for w in widths[:a + 1]])), tuple(2 + j for j in range(a + 1)))
        trail = Dim(int(np.prod([w.const for w in widths[a + 1:]])), tuple(2 + j for j in range(a + 1, n)))
        if phases[a] == 1:      # moving a size-1 axis is only a view
            x = b.reshape(x, z, [lead, inner, Dim(1), trail], stem="phase_view")
        else:
            view = b.reshape(x, z, [lead, Dim(phases[a]), inner, trail], stem="phase_view")
            x = b.op("Transpose", [view], {"perm": [0, 2, 1, 3]}, stem="phase_move", dtype=z.dtype)
        x = _fill_inactive(b, x, axis)
        widths[a] = Dim(axis.stride, (2 + a,))
    out_dims = [Dim(1, (0,)), Dim(groups * channels)] + widths
    return b.reshape(x, z, out_dims, stem="interleaved")


def _fill_inactive(b: GraphBuilder, x: gs.Tensor, axis: PhaseAxis) -> gs.Tensor:
    """(A, B, R, T) -> (A, B, s, T): phases no tap reaches become zeros (the caller adds the bias)."""
    count = len(axis.active)
    if count == axis.stride:
        return x
    if axis.active == tuple(range(count)):      # a prefix: pad the rest with zeros
        return b.op("Pad", [x, b.ints([0, 0, 0, 0, 0, 0, axis.stride - count, 0], "pads")], stem="phase_fill",
                    dtype=x.dtype)
    padded = b.op("Pad", [x, b.ints([0, 0, 0, 0, 0, 0, 1, 0], "pads")], stem="phase_zero", dtype=x.dtype)
    where = [axis.active.index(r) if r in axis.active else count for r in range(axis.stride)]
    return b.op("Gather", [padded, b.ints(where, "phase_index")], {"axis": 2}, stem="phase_fill", dtype=x.dtype)
