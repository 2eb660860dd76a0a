"""conv3d-to-conv2d: a 3-D Conv as two 2-D Convs, exact on every configuration drawn."""
import numpy as np
import onnx
from hypothesis import given, reject, settings, strategies as st

from onnxport.models import conv
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, max_rank_of_new_tensors, run_pass

NAME = "conv3d-to-conv2d"


@st.composite
def conv3d_models(draw):
    g = draw(st.sampled_from([1, 1, 2]))
    kernel = [draw(st.integers(1, 3)) for _ in range(3)]
    strides = [draw(st.integers(1, 3)) for _ in range(3)]
    dilations = [draw(st.integers(1, 2)) for _ in range(3)]
    pads = [draw(st.integers(0, 2)) for _ in range(6)]
    lengths = [draw(st.integers(1, 7)) for _ in range(3)]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    if any(n + pads[i] + pads[i + 3] < e for i, (n, e) in enumerate(zip(lengths, eff))):
        reject()
    auto_pad = draw(st.sampled_from([None, None, None, "VALID"]))
    if auto_pad == "VALID" and any(n < e for n, e in zip(lengths, eff)):
        reject()
    spatial = ["D", "H", "W"] if draw(st.booleans()) else lengths
    batch, cin = draw(st.sampled_from([1, 2, "N"])), g * draw(st.integers(1, 2))
    model = conv.build(spatial, cin=cin, cout=g * draw(st.integers(1, 3)), kernel=kernel, strides=strides,
                       dilations=dilations, pads=None if auto_pad else pads, auto_pad=auto_pad, group=g,
                       bias=draw(st.booleans()), batch=batch, consumer=draw(st.sampled_from([None, "Relu"])))
    return model, {"X": (2 if batch == "N" else batch, cin, *lengths)}


@settings(max_examples=60, deadline=None)
@given(conv3d_models())
def test_random_configurations_are_exact(case):
    model, sizes = case
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert count_ops(out, "Conv", spatial_rank=3) == 0 and count_ops(out, "Conv", spatial_rank=2) == 2
    assert_structurally_valid(out, model)
    assert max_rank_of_new_tensors(out, sizes) <= 5
    assert_equivalent(model, out, shapes=sizes, runs=1)


def test_a_computed_weight_of_static_shape_is_lowered_too():
    model = conv.build(["D", "H", "W"], cin=2, cout=3, kernel=[2, 3, 3], pads=[1] * 6)
    model.graph.node[0].input[1] = "w_computed"
    model.graph.node.insert(0, onnx.helper.make_node("Neg", ["conv_w_1"], ["w_computed"]))
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert_equivalent(model, out, shapes={"X": (1, 2, 4, 5, 6)}, runs=1)


def test_same_padding_is_left_with_a_reason():
    _, report = run_pass(conv.build(["D", "H", "W"], auto_pad="SAME_UPPER", strides=[2, 2, 2]), NAME)
    assert report.applied == 0 and "SAME_UPPER" in report.skipped[0][1]


def test_two_dimensional_convs_are_not_its_business():
    _, report = run_pass(conv.build(["H", "W"]), NAME)
    assert report.applied == 0 and not report.skipped


def test_the_depth_taps_are_one_conv_with_kd_times_the_outputs():
    model = conv.build([4, 5, 6], cin=2, cout=3, kernel=[3, 1, 2], pads=[1, 0, 0, 1, 0, 1], bias=True)
    out, _ = run_pass(model, NAME)
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in out.graph.initializer}
    first = next(n for n in out.graph.node if n.op_type == "Conv")
    assert weights[first.input[1]].shape == (3 * 3, 2, 1, 2)          # (C_out * k_d, C_in, k_h, k_w)
    original = onnx.numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "conv_w_1"))
    assert np.array_equal(weights[first.input[1]].reshape(3, 3, 2, 1, 2), original.transpose(0, 2, 1, 3, 4))
