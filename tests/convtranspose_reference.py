"""An independent numpy ConvTranspose (the ONNX definition term by term) and a numpy sub-pixel evaluator.

The reference is the oracle the polyphase math is checked against without onnxruntime; the evaluator
runs passes._polyphase's plan (phase Convs, interleave, zero-filled inactive phases, crop) in numpy.
"""
from __future__ import annotations

import itertools

import numpy as np

from onnxport.passes._convtranspose import ConvTransposeSpec
from onnxport.passes._polyphase import channel_order, conv_parts, part_weight, plan_axis


def reference(x: np.ndarray, w: np.ndarray, bias, spec: ConvTransposeSpec) -> np.ndarray:
    """y[o] = bias + sum over (i, t) with s*i + d*t - pad_begin == o of x[i] * w[t], in float64."""
    n_batch = x.shape[0]
    g = spec.group
    cin_g, cout_g = spec.in_channels // g, spec.out_channels // g
    lengths = x.shape[2:]
    outs = spec.output_spatial(lengths)
    y = np.zeros((n_batch, spec.out_channels) + outs)
    xg = x.astype(np.float64).reshape((n_batch, g, cin_g) + lengths)
    wg = w.astype(np.float64).reshape((g, cin_g, cout_g) + spec.kernel_shape)
    for taps in np.ndindex(*spec.kernel_shape):
        contrib = np.einsum("ngc...,gco->ngo...", xg, wg[(slice(None),) * 3 + taps])
        contrib = contrib.reshape((n_batch, spec.out_channels) + lengths)
        src, dst = [slice(None)] * 2, [slice(None)] * 2
        for a, t, length, out in zip(spec.axes, taps, lengths, outs):
            pos = np.arange(length) * a.stride + t * a.dilation - a.pad_begin
            hit = np.nonzero((pos >= 0) & (pos < out))[0]
            if hit.size == 0:
                break
            src.append(slice(hit[0], hit[-1] + 1))
            dst.append(slice(pos[hit[0]], pos[hit[-1]] + 1, a.stride))
        else:
            y[tuple(dst)] += contrib[tuple(src)]
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape((1, -1) + (1,) * len(outs))
    return y


def correlate(x, w, pads_begin, pads_end, dilations, group):
    """Stride-1 grouped N-D correlation (ONNX Conv) in float64."""
    n = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + list(zip(pads_begin, pads_end)))
    kernel = w.shape[2:]
    outs = [x.shape[2 + a] - dilations[a] * (kernel[a] - 1) for a in range(n)]
    cout, cin_g = w.shape[:2]
    xg = x.reshape((x.shape[0], group, cin_g) + x.shape[2:])
    wg = w.reshape((group, cout // group, cin_g) + kernel)
    y = np.zeros((x.shape[0], group, cout // group) + tuple(outs))
    for taps in itertools.product(*(range(k) for k in kernel)):
        window = xg[(slice(None),) * 3 + tuple(slice(t * d, t * d + o) for t, d, o in zip(taps, dilations, outs))]
        y += np.einsum("ngc...,goc->ngo...", window, wg[(slice(None),) * 3 + taps])
    return y.reshape((x.shape[0], cout) + tuple(outs))


def subpixel(x: np.ndarray, w: np.ndarray, bias, spec: ConvTransposeSpec) -> np.ndarray:
    """The sub-pixel decomposition evaluated in numpy, exactly as the pass lays it out."""
    plans = [plan_axis(a) for a in spec.axes]
    parts = conv_parts(spec, plans)
    z = np.concatenate([correlate(x.astype(np.float64), part_weight(w.astype(np.float64), part, spec.group),
                                  [c.pad_begin for c in part.classes], [c.pad_end for c in part.classes],
                                  [p.conv_dilation for p in plans], spec.group) for part in parts], axis=1)
    z = z[:, channel_order(spec, plans, parts)]
    n = spec.spatial_rank
    g, cout_g = spec.group, spec.out_channels // spec.group
    active = [p.active_phases for p in plans]
    rows = z.shape[2:]
    z = z.reshape((z.shape[0], g) + tuple(len(a) for a in active) + (cout_g,) + rows)
    full = np.zeros((z.shape[0], g) + tuple(p.stride for p in plans) + (cout_g,) + rows)   # inactive: 0
    for idx in itertools.product(*(range(len(a)) for a in active)):
        phase = tuple(a[i] for a, i in zip(active, idx))
        full[(slice(None), slice(None)) + phase] = z[(slice(None), slice(None)) + idx]
    # (N, g, s_0..s_{n-1}, c, q_0..q_{n-1}) -> (N, g, c, q_0, s_0, ..., q_{n-1}, s_{n-1})
    perm = [0, 1, 2 + n] + [i for a in range(n) for i in (3 + n + a, 2 + a)]
    y = full.transpose(perm).reshape((z.shape[0], g * cout_g) + tuple(p.stride * q for p, q in zip(plans, rows)))
    crop = tuple(slice(p.crop_begin, y.shape[2 + a] + p.crop_end) for a, p in enumerate(plans))
    y = y[(slice(None), slice(None)) + crop]
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape((1, -1) + (1,) * n)
    return y

