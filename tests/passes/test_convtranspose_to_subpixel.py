"""convtranspose-to-subpixel on onnxruntime: exact over every attribute, structural checks, skips, errors."""
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import helper

from onnxport.errors import UnsupportedGraph
from onnxport.models import convtranspose
from onnxport.passes._registry import Options
from tests.helpers import count_ops, run_pass
from tests.passes.convtranspose_cases import (GRID, assert_rank_at_most, check_lowering, check_node_test,
                                              check_random_model, node_test_cases, random_models)

NAME = "convtranspose-to-subpixel"


@pytest.mark.parametrize("case", sorted(GRID))
def test_lowers_equivalently(case):
    check_lowering(convtranspose.build(**GRID[case]), NAME)


@settings(max_examples=150)
@given(random_models(), st.integers(0, 1000))
def test_random_configurations_are_exact(case, seed):
    check_random_model(case, seed, NAME)


@pytest.mark.parametrize("case, constant_weights", node_test_cases())
def test_onnx_backend_node_tests(case, constant_weights):
    """Every test_convtranspose* case of onnx's own generators, W as a graph input and as an initializer."""
    out = check_node_test(case, constant_weights, NAME)
    assert count_ops(out, "ConvTranspose") == 0


def test_only_the_targeted_rank_is_rewritten():
    model = convtranspose.build(["H", "W"], kernel=[3, 3], strides=[2, 2])
    out, report = run_pass(model, NAME, Options(spatial_ranks=frozenset({3})))
    assert report.applied == 0 and not report.skipped
    assert out.graph.node[0].op_type == "ConvTranspose"


def test_second_run_changes_nothing():
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2])
    once, _ = run_pass(model, NAME)
    twice, report = run_pass(once, NAME)
    assert report.applied == 0
    assert [n.op_type for n in twice.graph.node] == [n.op_type for n in once.graph.node]


def test_output_name_and_consumers_are_kept():
    model = convtranspose.build(["D", "H", "W"], kernel=[4, 4, 4], strides=[2, 2, 2], pads=[1] * 6, consumer="Relu")
    ct_out = model.graph.node[0].output[0]
    out, _ = run_pass(model, NAME)
    producers = {o: n for n in out.graph.node for o in n.output}
    assert ct_out in producers
    assert any(n.op_type == "Relu" and n.input[0] == ct_out for n in out.graph.node)


def test_static_model_needs_no_shape_ops_and_symbolic_batch_neither():
    model = convtranspose.build([4, 5, 6], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, batch="N")
    out, _ = run_pass(model, NAME)
    assert count_ops(out, "Shape") == 0


@pytest.mark.parametrize("limit", [5, 4])
def test_rank_budget(limit):
    """Every view is rank <= 4: a 3-D net fits --max-rank 5, a 2-D one --max-rank 4."""
    spatial = ["D", "H", "W"][5 - limit:]
    model = convtranspose.build(spatial, cin=4, cout=4, group=2, kernel=[3] * len(spatial), strides=[2] * len(spatial))
    out = check_lowering(model, NAME, options=Options(max_rank=limit))
    assert_rank_at_most(out, limit, {"X": (1, 4) + (3, 4, 5)[5 - limit:]})


def test_a_rank_budget_below_the_model_is_an_error():
    model = convtranspose.build([3, 3, 3], kernel=[2, 2, 2], strides=[2, 2, 2])
    with pytest.raises(UnsupportedGraph, match="--max-rank 4 is below"):
        run_pass(model, NAME, Options(max_rank=4))


def _graph_weight_model(weight_shape):
    x = helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [1, 2, 3, 3, 3])
    w = helper.make_tensor_value_info("W", onnx.TensorProto.FLOAT, weight_shape)
    y = helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], name="ct", strides=[2, 2, 2])
    model = helper.make_model(helper.make_graph([node], "g", [x, w], [y]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    return model


def test_skips_a_weight_of_unknown_size_and_says_why():
    model = _graph_weight_model([2, "C", 3, 3, 3])
    out, report = run_pass(model, NAME)
    assert report.applied == 0
    assert report.skipped and "not static" in report.skipped[0][1]
    assert out.graph.node[0].op_type == "ConvTranspose"


def test_skips_output_shape_on_symbolic_sizes():
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[6, 6, 6])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "output_shape" in report.skipped[0][1]


def test_skips_opsets_below_eleven():
    model = convtranspose.build([3, 3, 3], kernel=[2, 2, 2], strides=[2, 2, 2], opset=10)
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "opset 10" in report.skipped[0][1]


@pytest.mark.parametrize("attrs, message", [
    (dict(group=3), "group 3 does not divide"),
    (dict(output_shape=[20, 6, 6]), "unreachable"),
    (dict(kernel_shape=[2, 2, 2]), "kernel_shape"),
    (dict(strides=[2, 2]), "strides has 2 values"),
])
def test_inconsistent_attributes_are_an_error_naming_the_node(attrs, message):
    """Each is also a model onnxruntime refuses; onnxport says which node and why instead of guessing."""
    model = convtranspose.build([3, 3, 3], cin=2, cout=2, kernel=[3, 3, 3], strides=[2, 2, 2])
    node = model.graph.node[0]
    for key, value in attrs.items():
        for a in list(node.attribute):
            if a.name == key:
                node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(key, value))
    with pytest.raises(UnsupportedGraph, match=message) as err:
        run_pass(model, NAME)
    assert "ct_1_node" in str(err.value)


def test_a_kernel_rank_that_does_not_match_the_input_is_an_error():
    model = convtranspose.build([3, 3, 3], kernel=[2, 2, 2], strides=[2, 2, 2])
    del model.graph.input[0].type.tensor_type.shape.dim[-1]
    with pytest.raises(UnsupportedGraph, match="input of rank 4 with a kernel of 3 spatial dims"):
        run_pass(model, NAME)
