"""conv-upsample-to-convtranspose: 1x1 Conv then nearest Resize x s (a plain repeat) -> one ConvTranspose.

Identity (per axis): repeat_s(Conv1x1(x))[s*i + r] = sum_c v[c] * x[c, i] for every r in [0, s), which
is ConvTranspose(x) with kernel == stride == s, no pads, and the 1x1 weight replicated over each
window (in/out channels swapped per group); the bias carries over. This is also the form the
resize-conv lowering emits for such ConvTransposes, so it folds back.
Preconditions (each a Skip with its reason): the Conv is 1x1, stride 1, unpadded, with a constant
weight, and feeds only the Resize; the Resize repeats with integer factors on the spatial axes only.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._conv_patterns import FoldedConvTranspose, conv_bias, repeat_beside_conv, replace
from onnxport.passes._registry import NoSettings, Pass, Skip, register
from onnxport.passes import conditions


def match(graph: gs.Graph, resize: gs.Node, settings: NoSettings):
    conv = resize.inputs[0].inputs[0] if resize.inputs[0].inputs else None
    if conv is None or conv.op != "Conv":
        return None
    pointwise = lambda weight, pads: all(k == 1 for k in weight.shape[2:]) and not any(pads)   # noqa: E731
    found = repeat_beside_conv(graph, resize, conv, resize.inputs[0], pointwise)
    if found is None:
        return None                                   # not a pointwise Conv: not this pattern
    if isinstance(found, str):
        return Skip(f"before Resize '{resize.name}': {found}")
    v, _, strides = found
    n = v.ndim - 2
    group = int(conv.attrs.get("group", 1))
    cout, cin_g = v.shape[:2]
    w = v.reshape(group, cout // group, cin_g).swapaxes(1, 2).reshape(group * cin_g, cout // group)
    w = np.ascontiguousarray(np.broadcast_to(w.reshape(w.shape + (1,) * n), w.shape + tuple(strides)))
    attrs = {"kernel_shape": strides, "strides": strides, "group": group}
    return FoldedConvTranspose((conv, resize), conv.inputs[0], resize.outputs[0], w, conv_bias(conv), attrs, conv.name)


PASS = register(Pass(
    name="conv-upsample-to-convtranspose",
    summary="1x1 Conv + nearest Resize x s (a repeat) -> ConvTranspose kernel == stride == s, exact",
    anchor_ops=("Resize", "Upsample"),
    match=match,
    rewrite=replace,
    ensures=(conditions.op_is("Resize", "Upsample"),),
    matches=FoldedConvTranspose,
    doc=__doc__,
))
