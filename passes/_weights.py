"""New weights and biases for ConvTranspose lowerings: constants when W is constant, else graph ops.

Each helper has one numpy path and one graph path computing the same thing, so a ConvTranspose whose W
is a graph input lowers exactly like one with an initializer.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import ConvTransposeMatch
from onnxport.passes._graph import INT64_MAX, GraphBuilder
from onnxport.passes._polyphase import ConvPart, part_weight


def phase_weight(b: GraphBuilder, m: ConvTransposeMatch, part: ConvPart) -> gs.Tensor:
    """A sub-pixel part's Conv weight (see passes._polyphase.part_weight)."""
    g = m.spec.group
    if m.weight is not None:
        return b.const(part_weight(m.weight, part, g), "weight")
    cin, cout_g = m.spec.in_channels, m.spec.out_channels // g
    phases, taps = part.table.shape
    w = b.op("Reshape", [m.weight_tensor, b.ints([cin, cout_g, -1], "flat")], stem="w_flat")
    w = b.op("Pad", [w, b.ints([0, 0, 0, 0, 0, 1], "zero_slot")], stem="w_padded")
    w = b.op("Gather", [w, b.ints(part.table, "taps")], {"axis": 2}, stem="w_taps")
    w = b.op("Reshape", [w, b.ints([g, cin // g, cout_g, phases, taps], "grouped")], stem="w_grouped")
    w = b.op("Transpose", [w], {"perm": [0, 3, 2, 1, 4]}, stem="w_ordered")
    return b.op("Reshape", [w, b.ints([g * phases * cout_g, cin // g] + part.kernel_shape, "conv_w")],
                stem="phase_weight", dtype=m.weight_tensor.dtype)


def flipped_weight(b: GraphBuilder, m: ConvTransposeMatch) -> gs.Tensor:
    """Conv weight (C_out, C_in/g, k...) = ConvTranspose W with in/out channels swapped per group, kernel flipped.

    Flipping every kernel axis is reversing the row-major flattened kernel, so the graph path stays rank 4.
    """
    g, kernel = m.spec.group, list(m.spec.kernel_shape)
    cin, cout_g = m.spec.in_channels, m.spec.out_channels // g
    if m.weight is not None:
        w = m.weight.reshape(g, cin // g, cout_g, -1)[..., ::-1].transpose(0, 2, 1, 3)
        return b.const(w.reshape([g * cout_g, cin // g] + kernel), "weight")
    w = b.op("Reshape", [m.weight_tensor, b.ints([g, cin // g, cout_g, -1], "grouped")], stem="w_grouped")
    w = b.op("Slice", [w, b.ints([-1], "starts"), b.ints([-INT64_MAX], "ends"), b.ints([3], "axes"),
                       b.ints([-1], "steps")], stem="w_flipped")
    w = b.op("Transpose", [w], {"perm": [0, 2, 1, 3]}, stem="w_swapped")
    return b.op("Reshape", [w, b.ints([g * cout_g, cin // g] + kernel, "conv_w")], stem="conv_weight",
                dtype=m.weight_tensor.dtype)


def reshaped_weight(b: GraphBuilder, m: ConvTransposeMatch, shape: list[int], stem: str) -> gs.Tensor:
    """W viewed with another shape (a pure reshape, e.g. depth taps folded into output channels)."""
    if m.weight is not None:
        return b.const(m.weight.reshape(shape), stem)
    return b.op("Reshape", [m.weight_tensor, b.ints(shape, stem + "_shape")], stem=stem, dtype=m.weight_tensor.dtype)


def bias_per_channel(b: GraphBuilder, m: ConvTransposeMatch) -> gs.Tensor | None:
    """The bias shaped (C_out, 1, ..., 1) to add after a lowering, or None without bias."""
    shape = (m.spec.out_channels,) + (1,) * m.spec.spatial_rank
    if m.bias is not None:
        return b.const(m.bias.reshape(shape), "bias")
    if m.bias_tensor is not None:
        return b.op("Reshape", [m.bias_tensor, b.ints(shape, "bias_shape")], stem="bias", dtype=m.bias_tensor.dtype)
    return None


def flat_bias(b: GraphBuilder, m: ConvTransposeMatch) -> gs.Tensor | None:
    """The bias as a (C_out,) tensor for a new ConvTranspose/Conv, or None without bias."""
    if m.bias is not None:
        return b.const(m.bias, "bias")
    return m.bias_tensor


def add_bias(b: GraphBuilder, y: gs.Tensor, m: ConvTransposeMatch) -> gs.Tensor:
    bias = bias_per_channel(b, m)
    return y if bias is None else b.op("Add", [y, bias], stem="biased", dtype=y.dtype)


def bias_vector(m: ConvTransposeMatch, repeat: int = 1) -> np.ndarray | None:
    """A constant bias with each group's block repeated `repeat` times (phase channels), else None."""
    if m.bias is None:
        return None
    per_group = m.bias.reshape(m.spec.group, 1, -1)
    return np.broadcast_to(per_group, (m.spec.group, repeat, per_group.shape[-1])).ravel()
