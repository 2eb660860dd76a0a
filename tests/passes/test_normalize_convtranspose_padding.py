"""normalize-convtranspose-padding: SAME_*/VALID/output_shape become explicit pads, computing the same."""
import pytest
from onnx import helper

from onnxport.converter import api
from onnxport.errors import BadArgument
from onnxport.models import convtranspose
from tests.helpers import assert_equivalent, assert_structurally_valid, run_pass
from tests.passes.convtranspose_cases import GRID, check_node_test, node_test_cases

NAME = "normalize-convtranspose-padding"
IMPLICIT = sorted(k for k, v in GRID.items() if v.get("auto_pad") or v.get("output_shape"))


def attrs(model):
    return {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}


@pytest.mark.parametrize("case", IMPLICIT + ["same_2d", "output_shape_2d"])
def test_implicit_padding_becomes_explicit(case):
    extra = {"same_2d": dict(spatial=["H", "W"], kernel=[4, 3], strides=[2, 3], auto_pad="SAME_LOWER"),
             "output_shape_2d": dict(spatial=[4, 5], kernel=[3, 3], strides=[2, 2], output_shape=[8, 11])}
    model = convtranspose.build(**(GRID.get(case) or extra[case]))
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    got = attrs(out)
    assert "auto_pad" not in got and "output_shape" not in got and "pads" in got
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=3)


def test_output_shape_past_the_full_length_becomes_output_padding():
    model = convtranspose.build([3, 4, 5], kernel=[2, 2, 2], strides=[3, 3, 3], output_shape=[9, 12, 15])
    out, _ = run_pass(model, NAME)
    assert attrs(out)["output_padding"] == [1, 1, 1] and attrs(out)["pads"] == [0] * 6
    assert_equivalent(model, out, runs=1)


@pytest.mark.parametrize("case, constant_weights",
                         [c for c in node_test_cases() if c.values[0].name in
                          ("test_convtranspose_autopad_same", "test_convtranspose_output_shape")])
def test_onnx_backend_node_tests(case, constant_weights):
    check_node_test(case, constant_weights, NAME)


def test_explicit_pads_and_symbolic_output_shape_are_left_alone():
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6)
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and not report.skipped
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[8, 8, 8])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "output_shape" in report.skipped[0][1]


def test_the_target_reports_what_it_could_not_normalise():
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[8, 8, 8])
    _, report = api.convert_model(model, targets=["normalize-padding"])
    assert [(v.node, v.why) for v in report.remaining] == [("ct_1_node", "ConvTranspose with output_shape")]


def test_conv2d_cannot_serve_a_target_with_2d_convtransposes():
    with pytest.raises(BadArgument, match="strategy 'convtranspose2d' rewrites only 3-D"):
        api.convert_model(convtranspose.build([3, 3], kernel=[2, 2]), targets=["no-convtranspose"], strategy="convtranspose2d")
