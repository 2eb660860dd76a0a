"""convtranspose-to-resize-conv: zero insertion + Conv, exact on every configuration; the cheap repeat form."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from onnx import numpy_helper

from onnxport.models import convtranspose
from onnxport.passes._registry import Options
from tests.helpers import count_ops, run_pass
from tests.passes.convtranspose_cases import (GRID, assert_rank_at_most, check_lowering, check_node_test,
                                              check_random_model, node_test_cases, random_models)

NAME = "convtranspose-to-resize-conv"


@pytest.mark.parametrize("case", sorted(GRID))
def test_lowers_equivalently(case):
    out = check_lowering(convtranspose.build(**GRID[case]), NAME)
    assert count_ops(out, "Transpose") == 0          # the point of this form: Pad/Reshape only


@settings(max_examples=80)
@given(random_models(), st.integers(0, 1000))
def test_random_configurations_are_exact(case, seed):
    check_random_model(case, seed, NAME)


@pytest.mark.parametrize("case, constant_weights", node_test_cases())
def test_onnx_backend_node_tests(case, constant_weights):
    check_node_test(case, constant_weights, NAME)


def window_constant_model(spatial, strides, group=1, bias=True):
    model = convtranspose.build(spatial, cin=2 * group, cout=3 * group, kernel=strides, strides=strides,
                                group=group, bias=bias)
    w = model.graph.initializer[0]
    arr = numpy_helper.to_array(w)
    arr = np.broadcast_to(arr[(Ellipsis,) + (slice(0, 1),) * len(spatial)], arr.shape).copy()
    w.CopyFrom(numpy_helper.from_array(arr, w.name))
    return model


@pytest.mark.parametrize("spatial, strides, group", [(["D", "H", "W"], [2, 2, 2], 1), ([3, 4, 5], [2, 3, 1], 2),
                                                     (["H", "W"], [2, 2], 1)])
def test_window_constant_weights_become_a_pointwise_conv_and_a_repeat(spatial, strides, group):
    model = window_constant_model(spatial, strides, group)
    out = check_lowering(model, NAME)
    assert [n.op_type for n in out.graph.node] == ["Conv", "Resize"]
    conv = out.graph.node[0]
    assert [a.ints for a in conv.attribute if a.name == "kernel_shape"][0] == [1] * len(spatial)


def test_weights_that_differ_inside_a_window_take_the_general_form():
    model = convtranspose.build([3, 3, 3], kernel=[2, 2, 2], strides=[2, 2, 2])
    out, _ = run_pass(model, NAME)
    assert count_ops(out, "Resize") == 0 and count_ops(out, "Pad") == 3


def test_every_new_tensor_fits_rank_five():
    model = convtranspose.build(["D", "H", "W"], cin=4, cout=4, group=2, kernel=[3, 3, 3], strides=[2, 2, 2])
    out = check_lowering(model, NAME, options=Options(max_rank=5))
    assert_rank_at_most(out, 5, {"X": (1, 4, 3, 4, 5)})
