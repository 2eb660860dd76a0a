"""convtranspose-to-subpixel: ConvTranspose -> stride-1 Conv(s) + depth-to-space + Slice (exact, N-D).

Identity (per axis, see passes._polyphase): writing the unpadded output position as s*q + r, phase r of
ConvTranspose(x, w) is the stride-1 correlation of x with the flipped sub-kernel {w[t] : d*t = r mod s}
at dilation d/gcd(d, s). So one Conv with group * (active phases) * C_out/group output channels computes
every phase at once (a Conv per offset class when d/gcd(d, s) > 1, so a dilated kernel is never
zero-stuffed); the interleave (passes._interleave) puts phase r of row q at s*q + r; a Slice with
constant starts and ends relative to the end crops pads and output_padding for any input size; the bias
rides in the Conv, or is added after the crop when some phase has no taps. An activation that follows
(Relu, Sigmoid, ...) is applied right after the Conv, where runtimes fuse it, since f commutes with the
interleave and the crop, which only move values (_activation_to_absorb). Exact over the reals; in
float32 only the summation order changes.

Weights: a constant W (initializer, or Constant behind Identity/Cast) gives constant phase kernels; any
other W with a static shape gets the same kernels computed in the graph (passes._weights), so W may be
a graph input. Every new tensor has rank <= max(4, input rank), 5 where W is computed with groups.
Preconditions (each a Skip with its reason): W's shape is static; output_shape needs static spatial
input sizes; opset >= 11 (Slice/Pad take their bounds as inputs). Attributes that contradict each other
are an error naming the node.
"""
from __future__ import annotations

from dataclasses import replace

import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import ConvTransposeMatch, match_node
from onnxport.passes._graph import INT64_MAX, GraphBuilder, constant_value, known_dims, sole_user
from onnxport.passes._interleave import PhaseAxis, interleave
from onnxport.passes._polyphase import AxisPlan, channel_order, conv_parts, plan_axis
from onnxport.passes._recipes import WEIGHT_ROLES, recipe, then
from onnxport.passes._registry import Pass, RankBudget, register
from onnxport.passes._weights import add_bias, bias_vector, phase_weight
from onnxport.passes import conditions


NAME = "convtranspose-to-subpixel"
# Activations onnxruntime fuses into the Conv that feeds them (its ConvActivationFusion; OpenVINO and
# TensorRT fuse these too).
FUSED_ACTIVATIONS = ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "Clip")


def match(graph: gs.Graph, node: gs.Node, settings: RankBudget):
    m = match_node(node, settings)
    if not isinstance(m, ConvTransposeMatch):
        return m
    if settings.max_rank is not None and m.weight is None and m.spec.group > 1 and settings.max_rank < 5:
        return settings.out_of_budget(f"ConvTranspose '{node.name}': a computed weight with groups needs a "
                                      f"rank-5 reorder, above --max-rank {settings.max_rank}")
    act = _activation_to_absorb(graph, m, settings)
    return m if act is None else replace(m, nodes=m.nodes + (act,), activation=act)


def _activation_to_absorb(graph: gs.Graph, m: ConvTransposeMatch, settings: RankBudget) -> gs.Node | None:
    """The activation after the node, applied to the phase Conv's output instead of the interleaved one.

    Exact: an elementwise op commutes with Reshape, Transpose and Slice, which only move values. It pays:
    the runtime fuses it into the Conv, saving a pass over the output (Relu: 2.2 of 24 ms, 64->32 k2 s2 at
    32^3, onnxruntime CPU). Only where nothing else moves values: one Conv, every phase with taps (no zero
    phases, f(0) need not be 0), the bias inside the Conv; and not when the activation writes a graph output
    (the interleave's last Reshape would, and onnxruntime copies a Reshape into a graph output), except
    when a recipe is lowered again (its record says the activation was absorbed)."""
    act = sole_user(m.y, graph)
    if act is None or act.op not in FUSED_ACTIVATIONS or act.inputs[0] is not m.y or len(act.outputs) != 1 \
            or any(t.name and constant_value(t) is None for t in act.inputs[1:]) \
            or (act.outputs[0] in graph.outputs and not settings.relowering):
        return None
    plans = [plan_axis(a) for a in m.spec.axes]
    if m.bias_tensor is not None or any(len(p.active_phases) != p.stride for p in plans) \
            or len(conv_parts(m.spec, plans)) != 1:
        return None
    return act


def rewrite(graph: gs.Graph, m: ConvTransposeMatch, b: GraphBuilder) -> dict:
    rec = recipe(m.nodes[0], NAME, WEIGHT_ROLES)       # before the node is detached
    spec = m.spec
    plans = [plan_axis(a) for a in spec.axes]
    every_phase_has_taps = all(len(p.active_phases) == p.stride for p in plans)
    y_out = m.y
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()
    z = _phase_convs(b, m, plans, bias_in_conv=every_phase_has_taps)
    if m.activation is not None:
        rec, y_out = then(rec, m.activation), m.activation.outputs[0]
        z = b.op(m.activation.op, [z] + list(m.activation.inputs[1:]), dict(m.activation.attrs), stem="activation",
                 dtype=z.dtype, shape=z.shape)
        m.activation.outputs.clear()
        m.activation.inputs.clear()
    g = spec.group
    y = interleave(b, z, g, spec.out_channels // g, [PhaseAxis(p.stride, p.active_phases) for p in plans])
    y = _crop(b, y, plans)
    if not every_phase_has_taps or m.bias_tensor is not None:
        y = add_bias(b, y, m)
    y.inputs[0].outputs[0] = y_out    # the last new node writes the original output: name and consumers stay
    return rec


def _phase_convs(b: GraphBuilder, m: ConvTransposeMatch, plans: list[AxisPlan], bias_in_conv: bool) -> gs.Tensor:
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
        inputs = [m.x, phase_weight(b, m, part)]
        bias = bias_vector(m, phases) if bias_in_conv else None
        if bias is not None:
            inputs.append(b.const(bias, "bias"))
        attrs = {"kernel_shape": part.kernel_shape, "strides": [1] * n, "dilations": [p.conv_dilation for p in plans],
                 "pads": [c.pad_begin for c in part.classes] + [c.pad_end for c in part.classes], "group": spec.group}
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


def _crop(b: GraphBuilder, y: gs.Tensor, plans: list[AxisPlan]) -> gs.Tensor:
    """Pads and output_padding as one Slice; ends count from the end, so no size is baked in."""
    cropped = [a for a, p in enumerate(plans) if p.needs_crop]
    if not cropped:
        return y
    return b.slice(y, [plans[a].crop_begin for a in cropped],
                   [plans[a].crop_end if plans[a].crop_end < 0 else INT64_MAX for a in cropped],
                   [2 + a for a in cropped])


PASS = register(Pass(
    name=NAME,
    summary="ConvTranspose -> stride-1 Conv + depth-to-space (Reshape/Transpose) + Slice, exact, 1-D/2-D/3-D",
    anchor_ops=("ConvTranspose",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.convtranspose_of_rank(None),),
    matches=ConvTransposeMatch,
    settings=RankBudget,
    doc=__doc__,
    min_opset=11,
))
