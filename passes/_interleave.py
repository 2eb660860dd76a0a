"""Depth-to-space for N spatial axes, one axis at a time, every view of rank <= 4.

Input z: (N, G * R_0 * ... * R_{n-1} * C, Q_0, ..., Q_{n-1}) with channels ordered (group, phase_0, ...,
phase_{n-1}, c), where R_a are the active phases of axis a (a subset of 0..s_a-1). Output:
(N, G*C, s_0*Q_0, ..., s_{n-1}*Q_{n-1}) with y[..., s*q + r, ...] = z[phase r, q], and zero where a
phase is inactive. With only phase 0 active on every axis this is zero insertion (x at s*q, zeros
between), which the resize-conv lowering uses. Identity used, axis a from last to first: viewing the current tensor as
(A, R_a, B, T) with B = C*Q_0*...*Q_a and T the already interleaved trailing axes, swapping the two
middle axes puts the phase right after Q_a, which is the interleave of that axis. Each step moves a
single axis, the one pattern onnxruntime's Transpose is fast at, and no view exceeds rank 4, so the
chain fits every rank budget >= 4. Where the batch is 1 and the budget allows (3-D: rank 5), the outer
axes' moves are one Transpose of rank 2k+1 instead (_outer_axes_together): the same permutation, composed.
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


def interleave(b: GraphBuilder, z: gs.Tensor, groups: int, channels: int, axes: list[PhaseAxis],
               max_rank: int | None = None) -> gs.Tensor:
    """z (grouped phase channels) -> interleaved output, shapes taken from z where symbolic. max_rank: the
    rank budget (None: max(4, rank of z)), which decides whether the outer axes' moves may be one Transpose."""
    n = len(axes)
    if all(a.stride == 1 for a in axes):
        return z
    # Dims of z: 0 = N, 2 + a = Q_a. Every view is a product of these and constants.
    phases = [len(a.active) for a in axes]
    widths = [Dim(1, (2 + a,)) for a in range(n)]              # current length of each spatial axis
    together = _outer_axes_together(z, groups, axes, max_rank)
    x = z
    for a in reversed(range(n)):
        axis = axes[a]
        if axis.stride == 1 or a in together:
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
    if together:
        x = _move_together(b, x, z, channels, axes, widths, together)
    out_dims = [Dim(1, (0,)), Dim(groups * channels)] + widths
    return b.reshape(x, z, out_dims, stem="interleaved")


def _outer_axes_together(z: gs.Tensor, groups: int, axes: list[PhaseAxis], max_rank: int | None) -> list[int]:
    """The axes whose phases one Transpose can put in place after the innermost axis's move, or [].

    One Transpose of rank 2k+1 instead of k single-axis moves: on 64->32 k2 s2 at 32^3 the D and H moves
    took 5.6 ms as two Transposes, 4.0 as one (onnxruntime CPU). Only where the batch (times the groups)
    is 1, so no leading axis is needed, every phase is active (no zero fill between the moves), and the
    view's rank stays within the budget (3-D: rank 5, the input's own)."""
    moving = [a for a, axis in enumerate(axes) if axis.stride != 1]
    outer = moving[:-1]
    budget = max(4, len(z.shape or ())) if max_rank is None else max_rank
    if len(outer) < 2 or groups != 1 or not z.shape or z.shape[0] != 1 or 2 * len(outer) + 1 > budget \
            or any(len(axes[a].active) != axes[a].stride for a in outer):
        return []
    return outer


def _move_together(b: GraphBuilder, x: gs.Tensor, z: gs.Tensor, channels: int, axes: list[PhaseAxis],
                   widths: list[Dim], together: list[int]) -> gs.Tensor:
    """(R_a for a in together, S_0, ..., S_k, T) -> (S_0, R_0, ..., S_k, R_k, T): S_i holds the axes up to
    together[i] (and the channels for S_0), T the axes after the last, already interleaved."""
    last = together[-1]
    segments, start = [], 0
    for i, a in enumerate(together):
        span = range(start, a + 1)
        segments.append(Dim((channels if i == 0 else 1) * int(np.prod([widths[j].const for j in span])),
                            tuple(2 + j for j in span)))
        start = a + 1
    trail = Dim(int(np.prod([w.const for w in widths[last + 1:]])), tuple(ax for w in widths[last + 1:] for ax in w.axes))
    k = len(together)
    view = b.reshape(x, z, [Dim(axes[a].stride) for a in together] + segments + [trail], stem="phase_view")
    perm = [i for pair in zip(range(k, 2 * k), range(k)) for i in pair] + [2 * k]
    moved = b.op("Transpose", [view], {"perm": perm}, stem="phase_move", dtype=z.dtype)
    for a in together:
        widths[a] = Dim(axes[a].stride, (2 + a,))
    return moved


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
