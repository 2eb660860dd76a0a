"""pad-to-concat, flatten-to-reshape, global-pool3d-to-pool2d: the rewrites that take a fixed-size net onto
runtimes without Pad, Flatten or 3-D global pools (the coreml profile); each bitwise exact on every
configuration drawn, the op gone, and its refusals named."""
import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import TensorProto, helper, numpy_helper

from onnxport.converter import api
from tests.helpers import assert_structurally_valid, count_ops, run_model, run_pass


def single_op(op: str, x_shape, y_shape, *, attrs=None, extra=(), initializers=(), opset=18) -> onnx.ModelProto:
    graph = helper.make_graph([helper.make_node(op, ["x", *extra], ["y"], **(attrs or {}))], op.lower(),
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def bitwise_same(a: onnx.ModelProto, b: onnx.ModelProto, shape) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want, got = run_model(a, {"x": x})[0], run_model(b, {"x": x})[0]
    assert want.shape == got.shape and np.array_equal(want, got)


@st.composite
def pads(draw):
    rank = draw(st.integers(1, 5))
    dims = [draw(st.integers(1, 5)) for _ in range(rank)]
    per_axis = [(draw(st.integers(-min(2, d - 1), 3)), draw(st.integers(-min(2, d - 1), 3))) for d in dims]
    per_axis = [(b, a) if d + b + a >= 1 else (0, 0) for d, (b, a) in zip(dims, per_axis)]
    value = draw(st.sampled_from([0.0, -1.5, 7.0]))
    use_axes = rank > 1 and draw(st.booleans())
    return dims, per_axis, value, use_axes, draw(st.sampled_from([11, 13, 18]))


@settings(max_examples=60, deadline=None)
@given(pads())
def test_constant_pads_of_every_sign_are_bitwise_the_same_as_concats(case):
    dims, per_axis, value, use_axes, opset = case
    axes = [i for i, p in enumerate(per_axis) if p != (0, 0)] if use_axes and opset >= 18 else list(range(len(dims)))
    axes = axes or [0]
    flat = [per_axis[a][0] for a in axes] + [per_axis[a][1] for a in axes]
    inits = [numpy_helper.from_array(np.array(flat, np.int64), "pads"),
             numpy_helper.from_array(np.array(value, np.float32), "value")]
    extra = ["pads", "value"]
    if axes != list(range(len(dims))):
        inits.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
        extra.append("axes")
    out_dims = [d + b + a for d, (b, a) in zip(dims, per_axis)]
    model = single_op("Pad", dims, out_dims, extra=extra, initializers=inits, opset=opset)
    out, report = run_pass(model, "pad-to-concat")
    assert report.applied == 1 and count_ops(out, "Pad") == 0
    assert_structurally_valid(out, model)
    bitwise_same(model, out, dims)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["edge", "reflect"]), st.integers(1, 4).flatmap(
    lambda rank: st.tuples(st.lists(st.integers(2, 5), min_size=rank, max_size=rank),
                           st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=rank, max_size=rank))))
def test_edge_and_reflect_pads_are_bitwise_the_same_as_slices_and_concats(mode, case):
    dims, per_axis = case
    per_axis = [(min(b, d - 1), min(a, d - 1)) if mode == "reflect" else (b, a) for d, (b, a) in zip(dims, per_axis)]
    flat = [b for b, _ in per_axis] + [a for _, a in per_axis]
    out_dims = [d + b + a for d, (b, a) in zip(dims, per_axis)]
    model = single_op("Pad", dims, out_dims, attrs={"mode": mode}, extra=["pads"],
                      initializers=[numpy_helper.from_array(np.array(flat, np.int64), "pads")])
    out, report = run_pass(model, "pad-to-concat")
    assert report.applied == 1 and count_ops(out, "Pad") == 0
    assert_structurally_valid(out, model)
    bitwise_same(model, out, dims)


@pytest.mark.parametrize("attrs, shape, opset, why", [
    ({"mode": "wrap"}, [1, 2, 4], 19, "in mode wrap"),
    ({"mode": "reflect"}, [1, 2, 1], 18, "a reflect pad as long as its axis"),
    ({}, ["N", 2, 4], 18, "a tensor of unknown shape (fixed sizes make it known: --fix-sizes)"),
    ({"pads": [0, 0, 1, 0, 0, 1]}, [1, 2, 4], 2, "opset 2 is below 11"),
])
def test_what_pad_to_concat_leaves_says_why(attrs, shape, opset, why):
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 1], np.int64), "pads")
    model = single_op("Pad", shape, [shape[0], 2, 6], attrs=attrs, extra=[] if opset < 11 else ["pads"],
                      initializers=[] if opset < 11 else [pads], opset=opset)
    out, report = run_pass(model, "pad-to-concat")
    assert report.applied == 0 and count_ops(out, "Pad") == 1
    assert any(why in reason for _, reason in report.skipped), report.skipped


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5).flatmap(lambda rank: st.tuples(st.just(rank), st.integers(-rank, rank),
                                                         st.lists(st.booleans(), min_size=rank, max_size=rank))))
def test_flatten_at_every_axis_is_the_same_reshape(case):
    rank, axis, symbolic = case
    dims = [2 + i for i in range(rank)]
    shape = [f"d{i}" if s else d for i, (d, s) in enumerate(zip(dims, symbolic))]
    k = axis % rank if axis < rank else rank
    model = single_op("Flatten", shape, [None, None], attrs={"axis": axis}, opset=13)
    out, report = run_pass(model, "flatten-to-reshape")
    assert report.applied == 1 and count_ops(out, "Flatten") == 0
    assert_structurally_valid(out, model)
    bitwise_same(model, out, dims)
    assert run_model(out, {"x": np.zeros(dims, np.float32)})[0].shape == (int(np.prod(dims[:k])), int(np.prod(dims[k:])))


@pytest.mark.parametrize("op, attrs", [("GlobalAveragePool", {}), ("GlobalMaxPool", {}), ("GlobalLpPool", {"p": 2}),
                                       ("GlobalLpPool", {"p": 1})])
@pytest.mark.parametrize("shape", [[2, 3, 4, 5, 6], ["N", 3, "D", "H", "W"], [1, 1, 1, 1, 7]])
def test_a_3d_global_pool_is_the_2d_one_over_depth_rows(op, attrs, shape):
    model = single_op(op, shape, [shape[0], 3 if shape[1] == 3 else 1, 1, 1, 1], attrs=attrs, opset=17)
    out, report = run_pass(model, "global-pool3d-to-pool2d")
    assert report.applied == 1
    pools = [n for n in out.graph.node if n.op_type == op]
    assert len(pools) == 1 and pools[0].input[0] != "x"        # the pool reads the (N, C, D, H*W) view
    assert_structurally_valid(out, model)
    concrete = [d if isinstance(d, int) else 5 for d in shape]
    x = np.random.default_rng(1).standard_normal(concrete).astype(np.float32)
    want, got = run_model(model, {"x": x})[0], run_model(out, {"x": x})[0]
    assert want.shape == got.shape
    assert np.array_equal(got, want)                              # the same samples, summed in the same order


def test_the_coreml_profile_takes_pads_flattens_and_3d_global_pools_away_at_fixed_sizes():
    """A fixed-size classifier with all three: the profile reaches coreml, and the result agrees."""
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 1], np.int64), "pads")
    weight = numpy_helper.from_array(np.random.default_rng(2).standard_normal((10, 4)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Pad", ["x", "pads"], ["p"]), helper.make_node("GlobalAveragePool", ["p"], ["g"]),
         helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)], "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [pads, weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    converted, report = api.convert_model(model, api.ConvertOptions(targets=("coreml",)))
    assert not report.remaining, report.remaining
    assert count_ops(converted, "Pad") == 0 and count_ops(converted, "Flatten") == 0
    x = np.random.default_rng(3).standard_normal((1, 4, 6, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_model(converted, {"x": x})[0], run_model(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
