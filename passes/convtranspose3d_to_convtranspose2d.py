"""convtranspose3d-to-convtranspose2d: a 3-D ConvTranspose as two 2-D ConvTransposes (exact).

Identity: a ConvTranspose is separable into its depth taps. With x_i the depth slice i,
    y[:, :, o] = sum over (i, t) with s_d*i + d_d*t - p_d == o  of  ConvTranspose2D(x_i, W[:, :, t])
So (1) fold depth into the batch and run one 2-D ConvTranspose over (H, W) whose output channels are
(C_out, depth tap) - its weight is W reshaped, (C_in, C_out/g * k_d, k_h, k_w), no data moves; then
(2) the depth overlap-add is itself a 2-D ConvTranspose over (D, H'*W') with stride (s_d, 1), dilation
(d_d, 1), the depth pads and output_padding, group C_out and a 0/1 weight that routes tap t's channel
to output position s_d*i + d_d*t; the bias rides there. auto_pad/output_shape become explicit pads and
output_padding on both. For runtimes with 2-D but not 3-D deconvolution; every tensor has rank <= 5.
Preconditions: those of passes._convtranspose.match_node; 3 spatial dims.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._convtranspose import ConvTransposeMatch, match_node
from onnxport.passes._graph import Dim, GraphBuilder, known_dims
from onnxport.passes._recipes import WEIGHT_ROLES, recipe
from onnxport.passes._registry import Pass, RankBudget, Skip, register
from onnxport.passes._weights import flat_bias, reshaped_weight
from onnxport.passes import conditions


NAME = "convtranspose3d-to-convtranspose2d"

def match(graph: gs.Graph, node: gs.Node, settings: RankBudget):
    m = match_node(node, settings)
    if isinstance(m, ConvTransposeMatch) and m.spec.spatial_rank != 3:
        return Skip(f"{m.spec.spatial_rank}-D: this strategy splits 3-D ConvTransposes only")
    return m


def rewrite(graph: gs.Graph, m: ConvTransposeMatch, b: GraphBuilder) -> dict:
    rec = recipe(m.nodes[0], NAME, WEIGHT_ROLES)       # before the node is detached
    spec = m.spec
    depth, height, width = (a.explicit() for a in spec.axes)
    g, k_d = spec.group, spec.kernel_shape[0]
    cout, cout_g = spec.out_channels, spec.out_channels // g
    m.nodes[0].outputs.clear()
    m.nodes[0].inputs.clear()
    x_dims = known_dims(m.x, 5)
    dtype = m.weight_tensor.dtype

    # (1) depth into the batch, one 2-D ConvTranspose over (H, W) with (C_out, tap) output channels
    t = b.op("Transpose", [m.x], {"perm": [0, 2, 1, 3, 4]}, stem="depth_first", dtype=dtype)
    v = b.reshape(t, m.x, [Dim(1, (0, 2)), Dim(spec.in_channels), Dim(1, (3,)), Dim(1, (4,))], stem="depth_in_batch")
    hw = spec.axes[1:]
    w2 = reshaped_weight(b, m, [spec.in_channels, cout_g * k_d] + list(spec.kernel_shape[1:]), "weight_hw")
    attrs = {"kernel_shape": list(spec.kernel_shape[1:]), "strides": [a.stride for a in hw],
             "dilations": [a.dilation for a in hw], "group": g,
             "pads": [height[0], width[0], height[1], width[1]], "output_padding": [height[2], width[2]]}
    out_hw = [None if n is None else a.output_length(n) for n, a in zip(x_dims[3:], hw)]
    z = b.op("ConvTranspose", [v, w2], attrs, stem="deconv_hw", dtype=dtype, shape=[None, cout * k_d] + out_hw)

    # (2) depth overlap-add: (N, C_out*k_d, D, H'*W') -> (N, C_out, D', H'*W')
    u = b.reshape(z, m.x, [Dim(1, (0,)), Dim(1, (2,)), Dim(cout * k_d), Dim(1, (2, 3), of=z)], stem="taps_by_depth")
    u = b.op("Transpose", [u], {"perm": [0, 2, 1, 3]}, stem="depth_last", dtype=dtype)
    route = np.zeros((cout * k_d, 1, k_d, 1), dtype)
    route[np.arange(cout * k_d), 0, np.tile(np.arange(k_d), cout), 0] = 1
    a = spec.axes[0]
    inputs = [u, b.const(route, "route")]
    bias = flat_bias(b, m)
    if bias is not None:
        inputs.append(bias)
    attrs = {"kernel_shape": [k_d, 1], "strides": [a.stride, 1], "dilations": [a.dilation, 1], "group": cout,
             "pads": [depth[0], 0, depth[1], 0], "output_padding": [depth[2], 0]}
    y = b.op("ConvTranspose", inputs, attrs, stem="deconv_depth", dtype=dtype)
    y = b.reshape(y, m.x, [Dim(1, (0,)), Dim(cout), Dim(1, (2,), of=y), Dim(1, (2,), of=z), Dim(1, (3,), of=z)],
                  stem="volume")
    y.inputs[0].outputs[0] = m.y
    return rec


PASS = register(Pass(
    name=NAME,
    summary="3-D ConvTranspose -> 2-D ConvTranspose over (H, W) with depth in the batch + 2-D ConvTranspose "
            "for the depth overlap-add, exact",
    anchor_ops=("ConvTranspose",),
    match=match,
    rewrite=rewrite,
    ensures=(conditions.convtranspose_of_rank(frozenset({3})),),
    matches=ConvTransposeMatch,
    settings=RankBudget,
    doc=__doc__,
    min_opset=11,
))
