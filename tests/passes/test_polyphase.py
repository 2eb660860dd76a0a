"""The sub-pixel identity itself, in numpy, over thousands of per-axis configurations (no onnxruntime)."""
import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st

from onnxport.models import convtranspose
from onnxport.passes._convtranspose import resolve
from onnxport.passes._polyphase import conv_parts, plan_axis
from tests.convtranspose_reference import reference, subpixel
from tests.helpers import assert_same_as_original, count_ops, run_pass


@st.composite
def configs(draw):
    nd = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 1, 2, 3]))
    axis = lambda lo, hi: [draw(st.integers(lo, hi)) for _ in range(nd)]
    kernel, strides, dilations = axis(1, 5), axis(1, 4), axis(1, 3)
    attrs = {"strides": strides, "dilations": dilations, "group": g}
    mode = draw(st.sampled_from(["pads", "same_upper", "same_lower", "valid", "output_shape"]))
    attrs["output_padding"] = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilations)]
    lengths = axis(1, 6)
    if mode == "pads":
        eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
        attrs["pads"] = [draw(st.integers(0, e - 1)) for e in eff] + [draw(st.integers(0, e - 1)) for e in eff]
    elif mode == "valid":
        attrs["auto_pad"] = "VALID"
    elif mode == "output_shape":
        full = [s * (n - 1) + op + d * (k - 1) + 1
                for s, n, op, d, k in zip(strides, lengths, attrs["output_padding"], dilations, kernel)]
        attrs["output_shape"] = [draw(st.integers(max(1, f - 3), f + s - 1 - op))
                                 for f, s, op in zip(full, strides, attrs["output_padding"])]
    else:
        attrs["auto_pad"] = mode.upper()
    weight_shape = [g * draw(st.integers(1, 2)), draw(st.integers(1, 2))] + kernel
    return attrs, weight_shape, lengths


@settings(max_examples=400)
@given(configs(), st.integers(0, 2**31 - 1))
def test_subpixel_plan_reproduces_the_definition(config, seed):
    attrs, weight_shape, lengths = config
    spec = resolve("ct", attrs, weight_shape, lengths)
    if min(spec.output_spatial(lengths)) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal([2, weight_shape[0]] + lengths)
    w = rng.standard_normal(weight_shape)
    b = rng.standard_normal(spec.out_channels)
    np.testing.assert_allclose(subpixel(x, w, b, spec), reference(x, w, b, spec), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("stride, dilation, kernel, taps", [(2, 2, 3, 3), (2, 3, 3, 3), (3, 2, 4, 5), (4, 6, 3, 3),
                                                            (2, 1, 1, 1), (2, 2, 5, 5), (3, 1, 4, 6)])
def test_dilated_phases_are_never_zero_stuffed(stride, dilation, kernel, taps):
    """Phase Convs run at dilation d/gcd(d, s): the Conv taps over all phases stay about k (a zero tap only
    where phases of one Conv have different lengths), never the d-fold of a dilation filled with zeros."""
    spec = resolve("ct", {"strides": [stride], "dilations": [dilation]}, [1, 1, kernel], [5])
    plan = plan_axis(spec.axes[0])
    parts = conv_parts(spec, [plan])
    assert plan.conv_dilation == dilation // np.gcd(dilation, stride)
    assert sum(p.table.size for p in parts) == taps


def test_phases_without_taps_are_not_computed():
    """k1 s2: only phase 0 has a tap; the other is bias only and gets no Conv channel."""
    plan = plan_axis(resolve("ct", {"strides": [2]}, [1, 1, 1], [4]).axes[0])
    assert plan.active_phases == (0,)


def test_stride_one_needs_no_crop_for_same_padding():
    """A stride-1 ConvTranspose with pads (k-1)/2 is a plain Conv: no interleave, no Slice."""
    plan = plan_axis(resolve("ct", {"pads": [1, 1]}, [1, 1, 3], [7]).axes[0])
    assert not plan.needs_crop and plan.active_phases == (0,)


def test_the_output_frame_is_taken_where_it_costs_no_taps():
    """MONAI's k3 s2 p1 op1 in the output's own frame: L rows, no crop (the unpadded frame computes L + 1
    rows and crops the first); k4 s2 p1 stays unpadded, where each phase keeps 2 taps instead of 3."""
    monai = plan_axis(resolve("ct", {"strides": [2], "pads": [1, 1], "output_padding": [1]}, [1, 1, 3], [8]).axes[0])
    assert monai.extra == 0 and not monai.needs_crop and [c.kernel for c in monai.classes] == [2]
    dcgan = plan_axis(resolve("ct", {"strides": [2], "pads": [1, 1]}, [1, 1, 4], [8]).axes[0])
    assert [c.kernel for c in dcgan.classes] == [2] and dcgan.crop_begin == 1


def test_the_monai_layer_lowers_without_a_slice():
    model = convtranspose.build([6, 7, 8], 3, 2, [3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, output_padding=[1] * 3)
    out, report = run_pass(model, "convtranspose-to-subpixel")
    assert report.applied == 1 and count_ops(out, "Slice") == 0
    conv = next(n for n in out.graph.node if n.op_type == "Conv")
    typed = onnx.shape_inference.infer_shapes(out)
    [z] = [v for v in typed.graph.value_info if v.name == conv.output[0]]
    assert [d.dim_value for d in z.type.tensor_type.shape.dim[2:]] == [6, 7, 8]        # L rows, not L + 1
    assert_same_as_original(model, out)
