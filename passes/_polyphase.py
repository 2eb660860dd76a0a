"""Polyphase (sub-pixel) decomposition of a ConvTranspose: which stride-1 Convs compute which phases.

Per axis (stride s, dilation d, kernel k, see passes._convtranspose): write the unpadded output position
as s*q + r with phase r in [0, s). Tap t reaches phase r iff d*t = r (mod s), and then reads input
q - m with m = (d*t - r)/s >= 0. With g = gcd(d, s), the taps of one phase are t0 + j*s/g and their
offsets m step by d/g, so each phase is a stride-1 correlation with the flipped sub-kernel at dilation
d/g; phases no tap reaches hold the bias alone. Phases whose offsets agree modulo d/g share one Conv
(a "class"); when d/g == 1, as for every undilated ConvTranspose, all phases share a single Conv.

The frame: phases of the unpadded output (v = u), or of the output itself (v = u - pad_begin mod s),
whichever needs fewer Conv taps and rows (plan_axis); in a shifted frame tap t serves phase
(d*t - shift) mod s. q runs from q0 (the first phase row the crop keeps) over L + extra rows; each class's Conv gets begin
pad (max offset - q0) and the end pad that makes its length exactly L + extra, so no Conv pad is ever
negative and the output of every class lines up. The interleaved result, s*(L + extra) long, is cropped
to [crop_begin, length + crop_end) (crop_end <= 0) to give the ConvTranspose output, for any L.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from onnxport.passes._convtranspose import Axis, ConvTransposeSpec


@dataclass(frozen=True)
class PhaseClass:
    """Phases of one axis computed by one Conv: their Conv taps and pads along that axis."""

    phases: tuple[int, ...]
    kernel: int
    pad_begin: int
    pad_end: int
    taps: tuple[tuple[tuple[int, int], ...], ...]   # per phase: (conv tap u, ConvTranspose tap t) pairs


@dataclass(frozen=True)
class AxisPlan:
    stride: int
    conv_dilation: int
    classes: tuple[PhaseClass, ...]
    extra: int          # the Convs output L + extra phase rows
    crop_begin: int
    crop_end: int       # <= 0: offset from the end of the s*(L + extra) interleaved axis

    @property
    def active_phases(self) -> tuple[int, ...]:
        return tuple(sorted(r for c in self.classes for r in c.phases))

    @property
    def needs_crop(self) -> bool:
        return self.crop_begin != 0 or self.crop_end != 0


def plan_axis(axis: Axis) -> AxisPlan:
    """The cheaper of two frames: phases of the unpadded output, or of the output itself (shifted by
    pad_begin mod s), where the latter costs no more Conv taps and rows. For MONAI's k3 s2 p1 op1 the
    output frame needs neither the Slice nor the extra row the unpadded frame computes ((L+1)^3 rows for
    L^3 in 3-D); for k4 s2 p1 it would widen every phase's kernel from 2 to 3 taps, so it is not taken."""
    unpadded = _plan(axis, 0)
    aligned = _plan(axis, axis.pad_begin % axis.stride)
    return aligned if _taps(aligned) <= _taps(unpadded) and aligned.extra <= unpadded.extra else unpadded


def _taps(plan: AxisPlan) -> int:
    return sum(c.kernel * len(c.phases) for c in plan.classes)


def _plan(axis: Axis, shift: int) -> AxisPlan:
    """The plan in the frame v = u - shift of the unpadded position u: phase r, row q is v = s*q + r."""
    s, d, k = axis.stride, axis.dilation, axis.kernel
    conv_dilation = d // math.gcd(d, s)
    offsets: dict[int, list[tuple[int, int]]] = {}          # phase -> [(offset m, tap t)]: reads x[q - m]
    for t in range(k):
        r = (d * t - shift) % s
        offsets.setdefault(r, []).append(((d * t - shift - r) // s, t))
    by_residue: dict[int, list[int]] = {}
    for r in sorted(offsets):
        by_residue.setdefault(offsets[r][0][0] % conv_dilation, []).append(r)
    groups = list(by_residue.values())
    max_offset = [max(m for r in phases for m, _ in offsets[r]) for phases in groups]
    min_offset = [min(m for r in phases for m, _ in offsets[r]) for phases in groups]
    q0 = min(math.floor((axis.pad_begin - shift) / s), min(max_offset))
    kernels = [(hi - lo) // conv_dilation + 1 for hi, lo in zip(max_offset, min_offset)]
    pads_begin = [hi - q0 for hi in max_offset]
    # rows the crop needs: the output's last position is v = s*(L-1) + reach - 1 - shift
    reach = axis.output_padding + axis.effective_kernel - axis.pad_end
    extra = max([(reach - 1 - shift) // s - q0] + [p - conv_dilation * (kc - 1) for p, kc in zip(pads_begin, kernels)])
    classes = []
    for phases, hi, kc, pb in zip(groups, max_offset, kernels, pads_begin):
        taps = tuple(tuple(((hi - m) // conv_dilation, t) for m, t in offsets[r]) for r in phases)
        classes.append(PhaseClass(tuple(phases), kc, pb, extra - pb + conv_dilation * (kc - 1), taps))
    crop_begin = axis.pad_begin - shift - s * q0
    return AxisPlan(s, conv_dilation, tuple(classes), extra, crop_begin, reach - shift - s * (q0 + 1 + extra))


@dataclass(frozen=True)
class ConvPart:
    """One stride-1 Conv of the decomposition: a class per axis, and which ConvTranspose tap feeds each tap.

    table[p, u] is the flat index (into the kernel dims) of the ConvTranspose tap that Conv tap u of
    phase tuple p uses, or kernel_size (a zero slot) where none does. Weights, constant or computed in
    the graph, are built from this one table: pad the flattened kernel with a zero, gather, reorder.
    """

    classes: tuple[PhaseClass, ...]
    table: np.ndarray           # (phase tuples, prod of Conv kernel sizes), int64

    @property
    def phase_tuples(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*(c.phases for c in self.classes)))

    @property
    def kernel_shape(self) -> list[int]:
        return [c.kernel for c in self.classes]


def conv_parts(spec: ConvTransposeSpec, plans: list[AxisPlan]) -> list[ConvPart]:
    kernel = spec.kernel_shape
    zero_slot = int(np.prod(kernel))
    parts = []
    for classes in itertools.product(*(p.classes for p in plans)):
        phase_indices = list(itertools.product(*(range(len(c.phases)) for c in classes)))
        taps = list(itertools.product(*(range(c.kernel) for c in classes)))
        table = np.full((len(phase_indices), len(taps)), zero_slot, np.int64)
        for row, p in enumerate(phase_indices):
            lookup = [dict(c.taps[i]) for c, i in zip(classes, p)]      # conv tap u -> ConvTranspose tap t
            for col, u in enumerate(taps):
                if all(ua in lk for ua, lk in zip(u, lookup)):
                    table[row, col] = np.ravel_multi_index(tuple(lk[ua] for ua, lk in zip(u, lookup)), kernel)
        parts.append(ConvPart(classes, table))
    return parts


def part_weight(weight: np.ndarray, part: ConvPart, group: int) -> np.ndarray:
    """Conv weight (group*phases*C_out/g, C_in/g, K...) of a part, from a ConvTranspose weight (C_in, C_out/g, k...).

    Output channels are group-major, so Conv's own grouping matches the ConvTranspose's; the in/out
    channel swap and the kernel flip are both in the table and this transpose.
    """
    cin, cout_g = weight.shape[:2]
    flat = weight.reshape(cin, cout_g, -1)
    padded = np.concatenate([flat, np.zeros((cin, cout_g, 1), weight.dtype)], axis=2)
    taken = padded[:, :, part.table]                                   # (C_in, C_out/g, P, KC)
    grouped = taken.reshape((group, cin // group) + taken.shape[1:])   # (G, C_in/g, C_out/g, P, KC)
    ordered = grouped.transpose(0, 3, 2, 1, 4)                          # (G, P, C_out/g, C_in/g, KC)
    return np.ascontiguousarray(ordered.reshape([-1, cin // group] + part.kernel_shape))


def channel_order(spec: ConvTransposeSpec, plans: list[AxisPlan], parts: list[ConvPart]) -> list[int]:
    """Where each channel of the (group, active phase tuple, c) layout sits in the concatenated parts."""
    g = spec.group
    cout_g = spec.out_channels // g
    position = {}
    base = 0
    for part in parts:
        tuples = part.phase_tuples
        for grp in range(g):
            for p_idx, phase in enumerate(tuples):
                for c in range(cout_g):
                    position[(grp, phase, c)] = base + (grp * len(tuples) + p_idx) * cout_g + c
        base += g * len(tuples) * cout_g
    wanted = itertools.product(range(g), itertools.product(*(p.active_phases for p in plans)), range(cout_g))
    return [position[(grp, phase, c)] for grp, phase, c in wanted]

