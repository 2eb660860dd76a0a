"""convtranspose-to-subpixel on onnxruntime: exact over every attribute, structural checks, skips, errors."""
import numpy as np
import onnx
import onnx.backend.test.case.node as node_cases
import pytest
from hypothesis import given, reject, settings, strategies as st
from onnx import helper, numpy_helper

from converter.errors import UnsupportedGraph
from models import convtranspose
from passes._registry import Options
from tests.helpers import (assert_equivalent, assert_structurally_valid, count_ops, max_rank_of_new_tensors,
                           run_model, run_pass)

NAME = "convtranspose-to-subpixel"

GRID = {
    "k3s2p1op1": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, output_padding=[1] * 3),
    "k2s2": dict(spatial=["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2]),
    "k4s2p1": dict(spatial=[4, 5, 6], kernel=[4, 4, 4], strides=[2, 2, 2], pads=[1] * 6, batch="N"),
    "stride1": dict(spatial=[4, 5, 6], kernel=[3, 3, 3], pads=[1] * 6),
    "asym_pads": dict(spatial=[5, 4, 3], kernel=[5, 3, 1], strides=[3, 2, 1], pads=[2, 0, 0, 1, 1, 0],
                      output_padding=[1, 0, 0]),
    "dilated_group": dict(spatial=[4, 5, 3], cin=4, cout=6, group=2, kernel=[3, 2, 5], strides=[2, 3, 2],
                          dilations=[2, 3, 3]),
    "depthwise": dict(spatial=["D", "H", "W"], cin=4, cout=4, group=4, kernel=[3, 3, 3], strides=[2, 2, 2]),
    "same_upper": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], auto_pad="SAME_UPPER"),
    "same_lower_aniso": dict(spatial=[3, 4, 5], kernel=[3, 3, 4], strides=[2, 3, 2], auto_pad="SAME_LOWER"),
    "same_negative_total": dict(spatial=[3, 4, 5], kernel=[1, 2, 1], strides=[2, 3, 3], auto_pad="SAME_UPPER"),
    "valid": dict(spatial=[3, 4, 5], kernel=[2, 3, 2], strides=[2, 2, 3], auto_pad="VALID", bias=False),
    "output_shape": dict(spatial=[3, 4, 5], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[6, 8, 10]),
    "output_shape_beyond_full": dict(spatial=[3, 4, 5], kernel=[2, 2, 2], strides=[3, 3, 3], output_shape=[9, 12, 15]),
    "k1s2op1": dict(spatial=["D", "H", "W"], kernel=[1, 1, 1], strides=[2, 2, 2], output_padding=[1] * 3),
    "no_bias": dict(spatial=[3, 3, 3], kernel=[4, 4, 4], strides=[2, 2, 2], pads=[1] * 6, bias=False),
    "consumer": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, consumer="Relu"),
    "2d": dict(spatial=["H", "W"], kernel=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
    "1d": dict(spatial=["L"], kernel=[5], strides=[3], pads=[2, 1], output_padding=[2]),
}


@pytest.mark.parametrize("case", sorted(GRID))
def test_lowers_equivalently(case):
    model = convtranspose.build(**GRID[case])
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert count_ops(out, "ConvTranspose") == 0
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=3)


@st.composite
def random_models(draw):
    nd = draw(st.sampled_from([1, 2, 3, 3]))
    g = draw(st.sampled_from([1, 1, 2, 4]))
    iso = draw(st.booleans())
    axis = lambda lo, hi: [draw(st.integers(lo, hi))] * nd if iso else [draw(st.integers(lo, hi)) for _ in range(nd)]
    kernel, strides = axis(1, 5), axis(1, 3)
    dilations = axis(1, 2) if draw(st.booleans()) else None
    d = dilations or [1] * nd
    lengths = axis(2, 5)
    cfg = dict(kernel=kernel, strides=strides, dilations=dilations, group=g, cin=g * draw(st.integers(1, 2)),
               cout=g * draw(st.integers(1, 2)), bias=draw(st.booleans()), consumer=draw(st.sampled_from([None, "Relu"])))
    mode = draw(st.sampled_from(["pads", "pads", "auto", "output_shape", "none"]))
    if mode == "pads":
        eff = [dd * (k - 1) + 1 for k, dd in zip(kernel, d)]
        cfg["pads"] = [draw(st.integers(0, min(e - 1, 3))) for e in eff] + [draw(st.integers(0, min(e - 1, 3))) for e in eff]
    elif mode == "auto":
        cfg["auto_pad"] = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    if mode in ("pads", "none", "output_shape") and draw(st.booleans()):
        cfg["output_padding"] = [draw(st.integers(0, max(s, dd) - 1)) for s, dd in zip(strides, d)]
    op = cfg.get("output_padding") or [0] * nd
    full = [s * (n - 1) + o + dd * (k - 1) + 1 for s, n, o, dd, k in zip(strides, lengths, op, d, kernel)]
    if mode == "output_shape":
        cfg["output_shape"] = [draw(st.integers(max(1, f - dd * (k - 1)), f)) for f, dd, k in zip(full, d, kernel)]
    symbolic = draw(st.sampled_from(["none", "batch", "all"])) if mode != "output_shape" else "batch"
    cfg["batch"] = "N" if symbolic != "none" else 1
    cfg["spatial"] = [f"S{i}" for i in range(nd)] if symbolic == "all" else lengths
    return cfg, lengths


@settings(max_examples=150)
@given(random_models(), st.integers(0, 1000))
def test_random_configurations_are_exact(case, seed):
    cfg, lengths = case
    model = convtranspose.build(**cfg, seed=seed)
    try:
        run_model(model, {"X": np.zeros([1, cfg["cin"]] + lengths, np.float32)})
    except Exception:  # noqa: BLE001 - a configuration onnxruntime itself rejects is not a case
        reject()
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert count_ops(out, "ConvTranspose") == 0
    shapes = {"X": tuple([1, cfg["cin"]] + lengths)} if cfg["spatial"] != lengths else None
    assert_equivalent(model, out, shapes=shapes, runs=2)
    if shapes is not None:      # symbolic sizes: other sizes too (no size is baked in)
        assert_equivalent(model, out, runs=2)


def _node_test_cases():
    cases = []
    for case in node_cases.collect_testcases("ConvTranspose"):
        cases.append(pytest.param(case, False, id=case.name))
        cases.append(pytest.param(case, True, id=case.name + "_constw"))
    return cases


@pytest.mark.parametrize("case, constant_weights", _node_test_cases())
def test_onnx_backend_node_tests(case, constant_weights):
    """Every test_convtranspose* case of onnx's own generators, W as a graph input and as an initializer."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    feeds = dict(zip([i.name for i in model.graph.input], inputs))
    if constant_weights:
        model.graph.initializer.append(numpy_helper.from_array(feeds.pop("W"), "W"))
        del model.graph.input[1]
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert count_ops(out, "ConvTranspose") == 0
    got = run_model(out, feeds)[0]
    assert got.shape == expected[0].shape
    assert np.max(np.abs(got - expected[0])) <= 1e-4 + 1e-4 * np.max(np.abs(expected[0]))


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


def test_every_new_tensor_fits_rank_five():
    model = convtranspose.build(["D", "H", "W"], cin=4, cout=4, group=2, kernel=[3, 3, 3], strides=[2, 2, 2])
    out, _ = run_pass(model, NAME)
    assert max_rank_of_new_tensors(out, {"X": (1, 4, 3, 4, 5)}) <= 5


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
