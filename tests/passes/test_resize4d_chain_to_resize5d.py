"""Folding 4-D Resize chains back: the seed's workaround, our own chain (structurally and by recipe)."""
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxport.converter import api
from onnxport.converter.files import recipe_store
from onnxport.models import examples, resize, wolfram
from tests.helpers import assert_equivalent, assert_same_as_original, count_ops, run_pass

NAME = "resize4d-chain-to-resize5d"


def fused(model):
    out, report = api.convert_model(model, fuse=True)
    return out, {p.name: p for p in report.passes}


@pytest.mark.parametrize("name", ["wolfram_resize3d", "wolfram_resize3d_nearest"])
def test_the_seed_chain_folds_into_one_resize_and_nearest_into_a_convtranspose(name):
    model = examples.build(name)
    out, passes = fused(model)
    assert passes[NAME].applied == 1
    if name.endswith("nearest"):
        assert [n.op_type for n in out.graph.node] == ["ConvTranspose"]
    else:
        assert [n.op_type for n in out.graph.node] == ["Resize", "Conv"]
        assert list(numpy_helper.to_array({i.name: i for i in out.graph.initializer}[out.graph.node[0].input[2]])) \
            == [1, 1, 2, 2, 2]
    assert_equivalent(model, out, runs=1)


def swap_variant(model: onnx.ModelProto, perm) -> onnx.ModelProto:
    """The seed chain resizing (D, W) together instead, via another axis pair, Reshape with 0 and -1."""
    n, c, d, h, w = [dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim]
    b = helper
    nodes = [
        b.make_node("Transpose", ["X"], ["t0"], perm=perm),                          # (N, C, H, D, W)
        b.make_node("Reshape", ["t0", "s0"], ["r0"]),                                # (N, C*H, D, W)
        b.make_node("Resize", ["r0", "", "k0"], ["z0"], mode="linear"),              # D, W x2
        b.make_node("Reshape", ["z0", "s1"], ["r1"]),                                # (N, C, H, 2D, 2W)
        b.make_node("Transpose", ["r1"], ["t1"], perm=perm),                         # (N, C, 2D, H, 2W)
        b.make_node("Reshape", ["t1", "s2"], ["r2"]),                                # (N, C*2D, H, 2W)
        b.make_node("Resize", ["r2", "", "k1"], ["z1"], mode="linear"),              # H x3
        b.make_node("Reshape", ["z1", "s3"], ["Y"]),
    ]
    inits = [numpy_helper.from_array(np.asarray(v, np.int64), k) for k, v in
             (("s0", [0, c * h, d, w]), ("s1", [n, c, h, 2 * d, -1]), ("s2", [0, -1, h, 2 * w]),
              ("s3", [n, c, 2 * d, 3 * h, 2 * w]))]
    inits += [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in (("k0", [1, 1, 2, 2]), ("k1", [1, 1, 3, 1]))]
    g = b.make_graph(nodes, "variant", [model.graph.input[0]], [b.make_tensor_value_info("Y", 1, [n, c, 2 * d, 3 * h, 2 * w])], inits)
    m = b.make_model(g, opset_imports=[b.make_opsetid("", 17)])
    m.ir_version = 10
    return m


def test_variants_with_other_axis_pairs_and_reshape_wildcards():
    model = swap_variant(examples.build("wolfram_resize3d"), [0, 1, 3, 2, 4])
    out, passes = fused(model)
    assert passes[NAME].applied == 1 and [n.op_type for n in out.graph.node] == ["Resize"]
    assert_equivalent(model, out, runs=1)


@pytest.mark.parametrize("edit", ["mode", "split"])
def test_look_alikes_are_left_alone(edit):
    """Resizes with different modes do not merge (the first, a valid chain on its own, may fold alone);
    a Reshape that splits an axis ends the pattern."""
    model = wolfram.build("linear")
    nodes = {n.name: n for n in model.graph.node}
    if edit == "mode":
        for a in nodes["resize_d_1_node"].attribute:
            if a.name == "mode":
                a.s = b"nearest"
    else:
        shape = next(i for i in model.graph.initializer if i.name.startswith("flatten_cd_shape"))
        shape.CopyFrom(numpy_helper.from_array(np.asarray([1, 4 * 6 * 2, 4, 10], np.int64), shape.name))
    out, passes = fused(model)
    assert count_ops(out, "Resize") == 2
    if edit == "mode":
        assert any("different interpolation attributes" in r for _, r in passes[NAME].skipped)
    else:
        assert passes[NAME].applied == 0
    assert_equivalent(model, out, runs=1)


@pytest.mark.parametrize("shape", [[1, 2, 4, 5, 6], ["N", 2, "D", "H", "W"]], ids=["static", "symbolic"])
@pytest.mark.parametrize("opset", [11, 13, 19])
def test_split_then_fuse_gives_the_resize_back(shape, opset):
    model = resize.build(shape, scales=[1, 1, 2, 1.5, 3], mode="linear", opset=opset,
                         coordinate_transformation_mode="align_corners")
    split, _ = api.convert_model(model, targets=["no-resize5d"])
    assert count_ops(split, "Resize") == 2
    back, _ = api.convert_model(split, fuse=True)
    assert [n.op_type for n in back.graph.node] == [n.op_type for n in model.graph.node]
    original, got = model.graph.node[0], back.graph.node[0]
    assert original.name == got.name and list(original.attribute) == list(got.attribute)
    assert not recipe_store.load(back)
    assert_same_as_original(model, back)


def test_sizes_and_computed_sizes_fold_back_by_recipe():
    for model in (resize.build(["N", 2, "D", "H", "W"], sizes=[8, 9], axes=[3, 4], mode="cubic"),
                  resize.interpolate_like()):
        split, _ = api.convert_model(model, targets=["no-resize5d"])
        back, _ = api.convert_model(split, fuse=True)
        assert count_ops(back, "Resize") == 1 and len(back.graph.node) == len(model.graph.node)


def test_a_chain_that_stays_4d_is_not_its_business():
    _, report = run_pass(resize.build([1, 2, 4, 4], scales=[1, 1, 2, 2]), NAME)
    assert report.applied == 0 and not report.skipped


def flatten_spelled_chain(n="N", c=2, d=3, h=4, w=5) -> onnx.ModelProto:
    """The seed chain as other exporters spell it: a Flatten-based first view, -1 for a symbolic batch,
    a target computed from Shape, and an Unsqueeze/Squeeze pair around the second stage."""
    b = helper
    ints = lambda name, v: numpy_helper.from_array(np.asarray(v, np.int64), name)
    floats = lambda name, v: numpy_helper.from_array(np.asarray(v, np.float32), name)
    nodes = [
        b.make_node("Flatten", ["X"], ["f0"], axis=2),                                  # (N*C, D*H*W)
        b.make_node("Reshape", ["f0", "s0"], ["r0"]),                                   # (N, C*D, H, W)
        b.make_node("Resize", ["r0", "", "k0"], ["z0"], mode="linear"),                 # H, W x2
        b.make_node("Reshape", ["z0", "s1"], ["u0"]),                                   # (N, C, D, 2H, 2W)
        b.make_node("Transpose", ["u0"], ["t0"], perm=[0, 1, 3, 2, 4]),                 # (N, C, 2H, D, 2W)
        b.make_node("Shape", ["X"], ["shape_x"]),
        b.make_node("Slice", ["shape_x", "zero", "one"], ["batch"]),
        b.make_node("Concat", ["batch", "rest"], ["s2"], axis=0),                       # computed target
        b.make_node("Reshape", ["t0", "s2"], ["r1"]),                                   # (N, C*2H, D, 2W)
        b.make_node("Unsqueeze", ["r1", "axis1"], ["q1"]),                              # (N, 1, C*2H, D, 2W)
        b.make_node("Squeeze", ["q1", "axis1"], ["q2"]),
        b.make_node("Resize", ["q2", "", "k1"], ["z1"], mode="linear"),                 # D x2
        b.make_node("Reshape", ["z1", "s3"], ["u1"]),                                   # (N, C, 2H, 2D, 2W)
        b.make_node("Transpose", ["u1"], ["Y"], perm=[0, 1, 3, 2, 4]),
    ]
    inits = [ints("s0", [-1, c * d, h, w]), floats("k0", [1, 1, 2, 2]), ints("s1", [-1, c, d, 2 * h, 2 * w]),
             ints("zero", [0]), ints("one", [1]), ints("rest", [c * 2 * h, d, 2 * w]), ints("axis1", [1]),
             floats("k1", [1, 1, 2, 1]), ints("s3", [-1, c, 2 * h, 2 * d, 2 * w])]
    graph = b.make_graph(nodes, "flatten_spelled", [b.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [n, c, d, h, w])],
                         [b.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [n, c, 2 * d, 2 * h, 2 * w])], inits)
    model = b.make_model(graph, opset_imports=[b.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("batch", ["N", 1])
def test_flatten_spellings_computed_targets_and_a_symbolic_batch_fold_too(batch):
    model = flatten_spelled_chain(n=batch)
    out, passes = fused(model)
    assert passes[NAME].applied == 1
    assert [n.op_type for n in out.graph.node] == ["Resize"]
    assert list(numpy_helper.to_array({i.name: i for i in out.graph.initializer}[out.graph.node[0].input[2]])) \
        == [1, 1, 2, 2, 2]
    assert_equivalent(model, out, runs=3)           # batch 1, 2, 3 where it is symbolic
