"""convtranspose-to-subpixel on onnxruntime: exact over every attribute, structural checks, skips, errors."""
import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper

from onnxport.converter import api
from onnxport.errors import UnsupportedGraph
from onnxport.models import convtranspose
from onnxport.passes._registry import Options
from tests.helpers import assert_same_as_original, count_ops, run_pass
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


def _layer_then(act: str, attrs=None, bounds=(), *, act_is_output=False, second_user=False, kernel=2, bias="constant"):
    """X -> ConvTranspose (stride 2) -> act -> Neg -> Y: an activation that feeds the net on, as in a decoder."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((3, 2) + (kernel,) * 3).astype(np.float32), "W")]
    inits += [numpy_helper.from_array(np.float32(v), name) for name, v in bounds]
    inputs = [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [1, 3, 4, 5, 6])]
    if bias == "constant":
        inits.append(numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "B"))
    else:
        inputs.append(helper.make_tensor_value_info("B", onnx.TensorProto.FLOAT, [2]))
    nodes = [helper.make_node("ConvTranspose", ["X", "W", "B"], ["up"], "ct", strides=[2, 2, 2]),
             helper.make_node(act, ["up"] + [name for name, _ in bounds], ["a"], "act", **(attrs or {}))]
    outputs = ["a"] if act_is_output else ["Y"]
    if not act_is_output:
        nodes.append(helper.make_node("Neg", ["a"], ["Y"], "neg"))
    if second_user:
        nodes.append(helper.make_node("Abs", ["up"], ["Z"], "abs"))
        outputs.append("Z")
    shape = [1, 2] + [2 * (n - 1) + kernel for n in (4, 5, 6)]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, shape)
                                                   for o in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _producer_of(model: onnx.ModelProto, tensor: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if tensor in n.output)


@pytest.mark.parametrize("act, attrs, bounds", [
    ("Relu", None, ()), ("LeakyRelu", {"alpha": 0.2}, ()), ("Sigmoid", None, ()), ("Tanh", None, ()),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, ()), ("Clip", None, (("lo", -0.5), ("hi", 0.7))),
])
def test_an_activation_after_the_layer_moves_next_to_the_conv(act, attrs, bounds):
    """f commutes with the interleave: the activation reads the phase Conv (runtimes fuse the two), the
    last Reshape writes its output; the values are the same, and --fuse gives both nodes back."""
    model = _layer_then(act, attrs, bounds)
    out, report = run_pass(model, NAME)
    assert report.applied == 1 and count_ops(out, "ConvTranspose") == 0
    moved = _producer_of(out, "a")
    assert moved.op_type == "Reshape"
    [activation] = [n for n in out.graph.node if n.op_type == act]
    assert _producer_of(out, activation.input[0]).op_type == "Conv"
    assert_same_as_original(model, out)
    back, _ = api.convert_model(api.convert_model(model)[0], fuse=True)      # the recipe travels in the model
    assert [(n.op_type, n.name, list(n.input)) for n in back.graph.node] == \
        [(n.op_type, n.name, list(n.input)) for n in model.graph.node]
    assert_same_as_original(model, back)


@pytest.mark.parametrize("why, kwargs", [
    ("it writes a graph output (the last Reshape would, and onnxruntime copies that)", {"act_is_output": True}),
    ("the layer's output has another user", {"second_user": True}),
    ("phases without taps get zeros, and f(0) need not be 0", {"kernel": 1}),
    ("a computed bias is added after the interleave", {"bias": "input"}),
])
def test_the_activation_stays_where_moving_it_does_not_hold_or_pay(why, kwargs):
    model = _layer_then("Sigmoid", **kwargs)
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    [activation] = [n for n in out.graph.node if n.op_type == "Sigmoid"]
    assert activation.input == ["up"] and activation.name == "act", why
    assert_same_as_original(model, out)


def test_an_activation_inside_a_subgraph_stays_there():
    """The layer's only user is a Relu in an If branch (an outer-scope read): it is not the layer's to move."""
    model = _layer_then("Relu")
    graph = model.graph
    relu = graph.node[1]
    del graph.node[1:]
    then = helper.make_graph([relu, helper.make_node("Neg", ["a"], ["t"], "neg_then")], "then", [],
                             [helper.make_tensor_value_info("t", onnx.TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Constant", [], ["e"], "zero",
                                                value=numpy_helper.from_array(np.zeros((1, 2, 8, 10, 12), np.float32)))],
                              "else", [], [helper.make_tensor_value_info("e", onnx.TensorProto.FLOAT, None)])
    graph.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
    graph.node.append(helper.make_node("If", ["cond"], ["Y"], "branch", then_branch=then, else_branch=other))
    out, report = run_pass(model, NAME)
    assert report.applied == 1 and count_ops(out, "ConvTranspose") == 0
    [branch] = [n for n in out.graph.node if n.op_type == "If"]
    then_ops = [n.op_type for a in branch.attribute if a.name == "then_branch" for n in a.g.node]
    assert then_ops == ["Relu", "Neg"]
    assert_same_as_original(model, out)
