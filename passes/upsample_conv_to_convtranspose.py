"""upsample-conv-to-convtranspose: nearest Resize x s (a plain repeat) then a stride-1 Conv -> one ConvTranspose.

Identity (per axis): with u[j] = x[floor(j/s)] and z = correlate(pad(u, p_b, p_e), v) for a kernel v of
length k,
    z[o] = sum_t' v[t'] * u[o + t' - p_b] = sum_i x[i] * sum_{r<s} v[k-1 - (o + k-1-p_b - s*i) + r]
which is ConvTranspose(x) with stride s, kernel w = flip(v) convolved with a length-s box (length
k+s-1), pads k-1-p_b and k-1-p_e, and in/out channels swapped per group; the bias carries over. So a
decoder's "nearest x2 then 3x3x3 Conv" becomes a k4 s2 p1 ConvTranspose, which the sub-pixel lowering
then runs with 8 instead of 27 MACs per output voxel and channel pair.
Preconditions (each a Skip with its reason): the Resize repeats (passes._resize) with integer factors
on the spatial axes only and feeds nothing else; the Conv has stride 1, dilation 1, a constant weight
and pads <= k-1 (a larger pad reads beyond the repeated samples, which no ConvTranspose pad expresses).
"""
from __future__ import annotations

import itertools

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._conv_patterns import FoldedConvTranspose, conv_bias, repeat_beside_conv, replace
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


def match(graph: gs.Graph, conv: gs.Node, settings: NoSettings):
    resize = conv.inputs[0].inputs[0] if conv.inputs[0].inputs else None
    if resize is None or resize.op not in ("Resize", "Upsample"):
        return None
    found = repeat_beside_conv(graph, resize, conv, conv.inputs[0])
    if isinstance(found, str):
        return Skip(f"after Resize '{resize.name}': {found}")
    weight, pads, strides = found
    kernel = list(weight.shape[2:])
    if any(p > k - 1 for p, k in zip(pads, kernel + kernel)):
        return Skip(f"Conv pads {pads} exceed kernel-1: no ConvTranspose pads express them")
    group = int(conv.attrs.get("group", 1))
    attrs = {"kernel_shape": [k + s - 1 for k, s in zip(kernel, strides)], "strides": strides, "group": group,
             "pads": [k - 1 - p for k, p in zip(kernel + kernel, pads)]}
    return FoldedConvTranspose((resize, conv), resize.inputs[0], conv.outputs[0], box_flip(weight, strides, group),
                               conv_bias(conv), attrs, conv.name)


def box_flip(v: np.ndarray, strides: list[int], group: int) -> np.ndarray:
    """ConvTranspose weight (C_in, C_out/g, k+s-1...) = flip(v) convolved with a box of s ones per axis."""
    cout, cin_g = v.shape[:2]
    flipped = v[(slice(None), slice(None)) + (slice(None, None, -1),) * (v.ndim - 2)]
    w = np.zeros((cout, cin_g) + tuple(k + s - 1 for k, s in zip(v.shape[2:], strides)), v.dtype)
    for shift in itertools.product(*(range(s) for s in strides)):
        w[(slice(None), slice(None)) + tuple(slice(r, r + k) for r, k in zip(shift, v.shape[2:]))] += flipped
    w = w.reshape((group, cout // group, cin_g) + w.shape[2:]).swapaxes(1, 2)
    return np.ascontiguousarray(w.reshape((group * cin_g, cout // group) + w.shape[3:]))


PASS = register(Pass(
    name="upsample-conv-to-convtranspose",
    summary="nearest Resize x s (a repeat) + stride-1 Conv k -> ConvTranspose stride s, kernel k+s-1, exact",
    anchor_ops=("Conv",),
    match=match,
    rewrite=replace,
    ensures=(conditions.op_is("Conv"),),
    matches=FoldedConvTranspose,
    doc=__doc__,
))
