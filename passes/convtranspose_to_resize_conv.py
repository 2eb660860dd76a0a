"""convtranspose-to-resize-conv: ConvTranspose -> zero insertion + stride-1 Conv with the flipped kernel (exact).

Identity (per axis): with u the input with s-1 zeros inserted after every sample (u[s*i] = x[i]),
    ConvTranspose(x, w)[o] = sum_t u[o + p_begin - d*t] * w[t]
                           = correlate(pad(u, d*(k-1) - p_begin, op + d*(k-1) - p_end), flip(w), dilation d)[o]
with in/out channels swapped inside each group. The zeros are inserted by Pad + Reshape on rank-4
views (passes._interleave with phase 0 only), the trailing s-1 zeros of the last sample count against
the end pad, and a negative pad becomes a Slice before the Conv. No input size is baked in.
Cost: the Conv runs over the zero-inserted tensor, prod(s) times the MACs of the sub-pixel form; this
is the compatibility form for runtimes that want no Transpose in the chain.

Cheap exact form: when kernel == stride, d = 1, no pads or output_padding and the weights are equal
across each kernel window, ConvTranspose(x) = repeat_s(Conv1x1(x)) (each input sample fills its own
window with the same values), emitted as a 1x1 Conv then Resize nearest (asymmetric, floor: a plain
repeat). The two commute, so the Conv runs on the small tensor.
Preconditions: those of passes._convtranspose.match_node; opset >= 11.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import ConvTransposeMatch, match_node
from onnxport.passes._graph import INT64_MAX, GraphBuilder, known_dims
from onnxport.passes._interleave import PhaseAxis, interleave
from onnxport.passes._recipes import WEIGHT_ROLES, recipe
from onnxport.passes._registry import Pass, RankBudget, register
from onnxport.passes._weights import add_bias, bias_vector, flipped_weight
from onnxport.passes import conditions


NAME = "convtranspose-to-resize-conv"

def match(graph: gs.Graph, node: gs.Node, settings: RankBudget):
    return match_node(node, settings)


def rewrite(graph: gs.Graph, m: ConvTransposeMatch, b: GraphBuilder) -> dict | None:
    rec = recipe(m.nodes[0], NAME, WEIGHT_ROLES)       # before the node is detached
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()
    repeat = is_window_constant(m)
    y = _repeat_form(b, m) if repeat else _zero_insertion_form(b, m)
    y.inputs[0].outputs[0] = m.y
    # the repeat form depends on W's values, so a recipe could not reproduce it; conv1x1-resize-to-
    # convtranspose recognises that form from its structure alone
    return None if repeat else rec


def is_window_constant(m: ConvTransposeMatch) -> bool:
    """kernel == stride (> 1 somewhere), no dilation effect, no padding, and W constant over each window."""
    axes = m.spec.axes
    if m.weight is None or all(a.stride == 1 for a in axes) or any(
            a.kernel != a.stride or (a.kernel > 1 and a.dilation != 1) or a.pad_begin or a.pad_end
            or a.output_padding for a in axes):
        return False
    first = m.weight[(Ellipsis,) + (slice(0, 1),) * len(axes)]
    return bool(np.all(m.weight == first))


def _repeat_form(b: GraphBuilder, m: ConvTransposeMatch) -> gs.Tensor:
    spec = m.spec
    n, g = spec.spatial_rank, spec.group
    cin_g, cout_g = spec.in_channels // g, spec.out_channels // g
    w = m.weight[(Ellipsis,) + (0,) * n].reshape(g, cin_g, cout_g).transpose(0, 2, 1)
    inputs = [m.x, b.const(w.reshape([g * cout_g, cin_g] + [1] * n), "weight")]
    if m.bias is not None:
        inputs.append(b.const(m.bias, "bias"))
    z = b.op("Conv", inputs, {"kernel_shape": [1] * n, "group": g}, stem="pointwise", dtype=m.weight.dtype)
    z = add_bias(b, z, m) if m.bias_tensor is not None else z
    scales = b.const(np.array([1, 1] + list(spec.strides), np.float32), "scales")
    roi = b.const(np.zeros(0, np.float32), "roi")
    return b.op("Resize", [z, roi, scales], {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                             "nearest_mode": "floor"}, stem="repeat", dtype=m.weight.dtype)


def _zero_insertion_form(b: GraphBuilder, m: ConvTransposeMatch) -> gs.Tensor:
    spec = m.spec
    n = spec.spatial_rank
    u = interleave(b, m.x, 1, spec.in_channels, [PhaseAxis(a.stride, (0,)) for a in spec.axes])
    begin = [a.dilation * (a.kernel - 1) - a.pad_begin for a in spec.axes]
    end = [a.output_padding + a.dilation * (a.kernel - 1) - a.pad_end - (a.stride - 1) for a in spec.axes]
    cropped = [i for i in range(n) if begin[i] < 0 or end[i] < 0]
    if cropped:
        u = b.slice(u, [max(0, -begin[i]) for i in cropped], [end[i] if end[i] < 0 else INT64_MAX for i in cropped],
                    [2 + i for i in cropped], stem="trim")
    inputs = [u, flipped_weight(b, m)]
    bias = bias_vector(m)
    if bias is not None:
        inputs.append(b.const(bias, "bias"))
    attrs = {"kernel_shape": list(spec.kernel_shape), "dilations": list(spec.dilations), "group": spec.group,
             "pads": [max(0, v) for v in begin] + [max(0, v) for v in end]}
    y = b.op("Conv", inputs, attrs, stem="conv", dtype=m.weight_tensor.dtype,
             shape=[known_dims(m.x, n + 2)[0], spec.out_channels] + [None] * n)
    return add_bias(b, y, m) if m.bias_tensor is not None else y


PASS = register(Pass(
    name=NAME,
    summary="ConvTranspose -> zero insertion (Pad/Reshape) + stride-1 Conv with the flipped kernel, exact; "
            "1x1 Conv + nearest Resize where the weights repeat over each window",
    anchor_ops=("ConvTranspose",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.convtranspose_of_rank(None),),
    matches=ConvTransposeMatch,
    settings=RankBudget,
    doc=__doc__,
    min_opset=11,
))
