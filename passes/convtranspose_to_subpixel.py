"""convtranspose-to-subpixel: ConvTranspose -> stride-1 Conv(s) + depth-to-space + Slice (exact, N-D).

Identity (per axis, see passes._polyphase): writing the unpadded output position as s*q + r, phase r of
ConvTranspose(x, w) is the stride-1 correlation of x with the flipped sub-kernel {w[t] : d*t = r mod s}
at dilation d/gcd(d, s). So one Conv with group * (active phases) * C_out/group output channels computes
every phase at once (a Conv per offset class when d/gcd(d, s) > 1, so a dilated kernel is never
zero-stuffed); the interleave (passes._interleave) puts phase r of row q at s*q + r; a Slice with
constant starts and ends relative to the end crops pads and output_padding for any input size; the bias
rides in the Conv, or is added after the crop when some phase has no taps. Exact over the reals; in
float32 only the summation order changes.

Weights: a constant W (initializer, or Constant behind Identity/Cast) gives constant phase kernels; any
other W with a static shape gets the same kernels computed in the graph (Reshape, Pad, one Gather with
the tap table of passes._polyphase, Transpose), so W may be a graph input.
Preconditions (each a Skip with its reason): W's shape is static; output_shape needs static spatial
input sizes; opset >= 11 (Slice/Pad take their bounds as inputs). Attributes that contradict each other
are an error naming the node.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from converter.errors import UnsupportedGraph
from passes._convtranspose import ConvTransposeSpec, SymbolicOutputShape, resolve
from passes._graph import INT64_MAX, GraphBuilder, constant_value, known_dims
from passes._interleave import PhaseAxis, interleave
from passes._polyphase import AxisPlan, ConvPart, channel_order, conv_parts, part_weight, plan_axis
from passes._registry import Options, Pass, Skip, register

NAME = "convtranspose-to-subpixel"


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    weight: np.ndarray | None            # None: computed in the graph from weight_tensor
    weight_tensor: gs.Tensor
    bias: np.ndarray | None
    bias_tensor: gs.Tensor | None        # a bias that is not constant: added at the end
    spec: ConvTransposeSpec


def match(graph: gs.Graph, node: gs.Node, options: Options):
    weight = constant_value(node.inputs[1])
    weight_shape = weight.shape if weight is not None else node.inputs[1].shape
    if weight_shape is None:
        return Skip("the weight's rank is unknown")
    rank = len(weight_shape) - 2
    if options.spatial_ranks is not None and rank not in options.spatial_ranks:
        return None
    if any(d is None for d in known_dims(node.inputs[1], rank + 2)) and weight is None:
        return Skip(f"the weight's shape {list(weight_shape)} is not static: the phase kernels need its sizes")
    x, y = node.inputs[0], node.outputs[0]
    spatial = known_dims(x, rank + 2)[2:]
    try:
        spec = resolve(node.name, node.attrs, weight_shape, spatial)
    except SymbolicOutputShape as e:
        return Skip(str(e))
    channels = known_dims(x, rank + 2)[1]
    if channels is not None and channels != spec.in_channels:
        raise UnsupportedGraph(f"ConvTranspose '{node.name}': input has {channels} channels but the weight "
                               f"expects {spec.in_channels}")
    bias_tensor = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
    bias = constant_value(bias_tensor) if bias_tensor is not None else None
    return Match((node,), x, y, weight, node.inputs[1], bias, bias_tensor if bias is None else None, spec)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    spec = m.spec
    plans = [plan_axis(a) for a in spec.axes]
    every_phase_has_taps = all(len(p.active_phases) == p.stride for p in plans)
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()

    z = _phase_convs(b, m, plans, bias_in_conv=every_phase_has_taps and m.bias is not None)
    g = spec.group
    y = interleave(b, z, g, spec.out_channels // g, [PhaseAxis(p.stride, p.active_phases) for p in plans])
    y = _crop(b, y, plans)
    y = _add_bias(b, y, m, spec, needed=not every_phase_has_taps or m.bias_tensor is not None)
    y.inputs[0].outputs[0] = m.y      # the last new node writes the original output: name and consumers stay


def _phase_convs(b: GraphBuilder, m: Match, plans: list[AxisPlan], bias_in_conv: bool) -> gs.Tensor:
    """Every phase as a channel of stride-1 Convs; channels ordered (group, phase tuple, c)."""
    spec = m.spec
    n = spec.spatial_rank
    x_dims = known_dims(m.x, n + 2)
    rows = [None if length is None else length + p.extra for length, p in zip(x_dims[2:], plans)]
    parts = conv_parts(spec, plans)
    dtype = m.weight_tensor.dtype
    outs = []
    for part in parts:
        phases = len(part.phase_tuples)
        inputs = [m.x, _part_weight(b, m, part)]
        if bias_in_conv:
            per_group = m.bias.reshape(spec.group, 1, -1)
            inputs.append(b.const(np.broadcast_to(per_group, (spec.group, phases, per_group.shape[-1])).ravel(), "bias"))
        attrs = {"kernel_shape": part.kernel_shape, "strides": [1] * n,
                 "dilations": [p.conv_dilation for p in plans],
                 "pads": [c.pad_begin for c in part.classes] + [c.pad_end for c in part.classes],
                 "group": spec.group}
        shape = [x_dims[0], spec.out_channels * phases] + rows
        outs.append(b.op("Conv", inputs, attrs, stem="phase_conv", dtype=dtype, shape=shape))
    if len(outs) == 1:
        return outs[0]
    channels = sum(o.shape[1] for o in outs)
    z = b.op("Concat", outs, {"axis": 1}, stem="phases", dtype=dtype, shape=[x_dims[0], channels] + rows)
    order = channel_order(spec, plans, parts)
    if order == list(range(channels)):
        return z
    return b.op("Gather", [z, b.ints(order, "phase_order")], {"axis": 1}, stem="phases_ordered",
                dtype=dtype, shape=z.shape)


def _part_weight(b: GraphBuilder, m: Match, part: ConvPart) -> gs.Tensor:
    """The part's Conv weight: a constant, or the same gather/reorder as graph ops on a computed W."""
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


def _crop(b: GraphBuilder, y: gs.Tensor, plans: list[AxisPlan]) -> gs.Tensor:
    """Pads and output_padding as one Slice; ends count from the end, so no size is baked in."""
    cropped = [a for a, p in enumerate(plans) if p.needs_crop]
    if not cropped:
        return y
    return b.slice(y, [plans[a].crop_begin for a in cropped],
                   [plans[a].crop_end if plans[a].crop_end < 0 else INT64_MAX for a in cropped],
                   [2 + a for a in cropped])


def _add_bias(b: GraphBuilder, y: gs.Tensor, m: Match, spec: ConvTransposeSpec, needed: bool) -> gs.Tensor:
    """The bias after the crop, for phases no tap reaches (they must hold the bias too) or a computed bias."""
    if not needed or (m.bias is None and m.bias_tensor is None):
        return y
    per_channel = (spec.out_channels,) + (1,) * spec.spatial_rank
    if m.bias is not None:
        bias = b.const(m.bias.reshape(per_channel), "bias")
    else:
        bias = b.op("Reshape", [m.bias_tensor, b.ints(per_channel, "bias_shape")], stem="bias", dtype=y.dtype)
    return b.op("Add", [y, bias], stem="biased", dtype=y.dtype)


PASS = register(Pass(
    name=NAME,
    summary="ConvTranspose -> stride-1 Conv + depth-to-space (Reshape/Transpose) + Slice, exact, 1-D/2-D/3-D",
    anchor_ops=("ConvTranspose",),
    match=match,
    rewrite=rewrite,
    doc=__doc__,
    min_opset=11,
))
