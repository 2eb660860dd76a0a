"""Freeing the input size: strip-sizes, fix-sizes, pad-to-valid, fully convolutional heads, dense sliding."""
import numpy as np
import onnx
import pytest

from onnxport.converter import api, size_edits
from onnxport.errors import BadArgument, UnsupportedGraph
from onnxport.models import ddae, examples, lenet, resize
from onnxport.models._builder import NetBuilder
from tests.helpers import assert_equivalent, count_ops, run_model


def feeds(shape, seed=0):
    return {"X": np.abs(np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)}


@pytest.fixture(scope="module")
def free_ddae():
    model, _ = size_edits.strip(examples.build("ddae"))
    return model


def test_the_stripped_autoencoder_runs_at_157_and_1661_like_the_net_built_there(free_ddae):
    """Same weights (the builder's seed), any admissible size: 61 + 16*100 = 1661."""
    assert_equivalent(examples.build("ddae"), free_ddae, runs=1)
    for size in (77, 1661):
        x = feeds((1, 1, size, size), size)
        np.testing.assert_array_equal(run_model(free_ddae, x)[0], run_model(ddae.build(size=size), x)[0])


def test_freed_dims_are_named_and_stale_shapes_dropped(free_ddae):
    dims = [d.dim_param or d.dim_value for d in free_ddae.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 1, "H", "W"]
    assert all(vi.type.tensor_type.shape.dim[2].dim_value != 157 for vi in free_ddae.graph.value_info
               if len(vi.type.tensor_type.shape.dim) == 4)


def test_a_linear_head_keeps_the_spatial_axes_fixed_and_says_why():
    """Floor pooling lets lenet run at 28..31, then its Gemm counts 800 features: the batch is freed, the
    spatial axes stay fixed with the node named; naming them with --axes is an error."""
    freed, report = size_edits.strip(examples.build("lenet"))
    assert report.freed == {"X": {0: "N"}}
    assert set(report.kept["X"]) == {2, 3}
    assert "28, 29, 30, 31 only (Gemm 'fc1_1_node' fixes its features at 800)" in report.kept["X"][2]
    assert "fully-convolutional" in report.kept["X"][2]
    assert "kept X axis 2 fixed" in report.text()
    with pytest.raises(UnsupportedGraph, match="cannot free X axis 2.*Gemm 'fc1_1_node'.*fully-convolutional"):
        size_edits.strip(examples.build("lenet"), axes=[2, 3])


def test_bad_names_and_axes():
    with pytest.raises(BadArgument, match="not a graph input"):
        size_edits.strip(examples.build("ddae"), names=["Y"])
    with pytest.raises(BadArgument, match="out of range"):
        size_edits.strip(examples.build("ddae"), axes=[4])


def baked_reshapes(size: int):
    """Conv -> Reshape to (1, C*H*W) -> Relu -> Reshape back, with the sizes written into the targets."""
    b = NetBuilder("baked", seed=3)
    x = b.conv(b.input("X", [1, 2, size, size]), 2, 2, [3, 3], "c", pads=[1, 1, 1, 1])
    x = b.op("Reshape", [x, b.const(np.array([1, 2 * size * size]))], "flat")
    x = b.op("Relu", [x])
    x = b.op("Reshape", [x, b.const(np.array([1, 2, size, size]))], "back")
    b.output(x, [1, 2, size, size])
    return b.build()


def test_reshape_targets_that_bake_sizes_are_computed_from_shape():
    freed, report = size_edits.strip(baked_reshapes(8))
    assert {p.name: p.applied for p in report.passes}["free-baked-sizes"] == 1      # one match, both Reshapes
    for size in (8, 13):
        x = feeds((1, 2, size, size))
        np.testing.assert_array_equal(run_model(freed, x)[0], run_model(baked_reshapes(size), x)[0])


def test_a_resize_with_constant_sizes_becomes_scales():
    model = resize.build([1, 2, 8, 8], sizes=[1, 2, 16, 16], mode="linear")
    freed, _ = size_edits.strip(model)
    x = feeds((1, 2, 12, 12))
    got = run_model(freed, x)[0]
    want = run_model(resize.build([1, 2, 12, 12], scales=[1, 1, 2, 2], mode="linear"), x)[0]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_resize_whose_float32_scale_would_round_below_its_size_keeps_its_sizes():
    """13/11 in float32 times 11 is below 13 even in float32 arithmetic: onnxruntime would give 12, so sizes
    13 from 11 cannot become a scale; the freed model keeps the sizes and still gives 13 there."""
    model = resize.build([1, 2, 11, 11], sizes=[1, 2, 13, 13], mode="nearest")
    freed, report = size_edits.strip(model)
    x = feeds((1, 2, 11, 11))
    np.testing.assert_array_equal(run_model(freed, x)[0], run_model(model, x)[0])


def test_a_slice_to_the_exported_end_reads_to_the_end_once_freed():
    """Slice(ends = the exported length) is 'to the end': freed, it keeps every row at other sizes."""
    b = NetBuilder("slice_to_end", seed=2)
    x = b.input("X", [1, 2, 8, 8])
    y = b.op("Slice", [x, b.const(np.array([1])), b.const(np.array([8])), b.const(np.array([2]))])
    b.output(b.op("Relu", [y]), [1, 2, 7, 8])
    freed, _ = size_edits.strip(b.build())
    assert run_model(freed, feeds((1, 2, 12, 10)))[0].shape == (1, 2, 11, 10)


def back_to_image_size(size: tuple, target: tuple | None = None, exporter: str = "constant"):
    """Conv stride 2 -> Resize to the image's size (as F.interpolate(size=x.shape[2:]) is exported at a
    fixed size: the sizes a constant, or Concat(Shape(h)[:2], constant) as the TorchScript exporter writes
    them) -> output. target: a size of its own instead (a fixed resample)."""
    b = NetBuilder("back_to_image_size", seed=5)
    h = b.conv(b.input("X", [1, 2, *size]), 2, 3, [3, 3], "down", strides=[2, 2], pads=[1, 1, 1, 1])
    spatial = list(target or size)
    if exporter == "constant":
        sizes = b.const(np.array([1, 3, *spatial], np.int64))
    else:
        leading = b.op("Slice", [b.op("Shape", [h]), b.const(np.array([0])), b.const(np.array([2]))])
        sizes = b.op("Concat", [leading, b.const(np.array(spatial, np.int64))], axis=0)
    y = b.op("Resize", [h, "", "", sizes], "up", mode="linear")
    b.output(y, [1, 3, *spatial])
    return b.build()


@pytest.mark.parametrize("exporter", ["constant", "concat"])
def test_a_resize_back_to_the_image_size_follows_the_image_once_freed(exporter):
    """A constant Resize size equal to the input's exported size is the image's size: freed, the output
    follows the input at every size, batch included, and the analysis predicts it."""
    freed, report = size_edits.strip(back_to_image_size((12, 12), exporter=exporter))
    assert set(report.freed["X"]) == {0, 2, 3}, report.text()
    for shape in [(1, 2, 12, 12), (2, 2, 7, 20), (1, 2, 16, 9)]:
        x = feeds(shape)
        want = np.concatenate([run_model(back_to_image_size(shape[2:], exporter=exporter), {"X": x["X"][i:i + 1]})[0]
                               for i in range(shape[0])])
        np.testing.assert_allclose(run_model(freed, x)[0], want, atol=1e-5)
    model = back_to_image_size((12, 12), exporter=exporter)
    out = model.graph.output[0].name
    rows = [r for r in api.admissible_sizes(model, check_up_to=0) if r.role == "spatial"]
    assert [r.axis for r in rows] == [2, 3]
    for r in rows:
        for n in (9, 13):
            assert r.output_shapes(n, {out: [1, 3, 12, 12]})[out][r.axis] == n, r.text()


def test_a_resample_to_a_size_of_its_own_stays_that_size_with_its_batch_freed(tmp_path):
    """A Resize to 32x32 from a 12x12 image is a fixed resample: strip-sizes keeps 32 at every input size
    (its verification rejects the scales that would follow the input) and frees the batch it bakes."""
    model = back_to_image_size((12, 12), target=(32, 32))
    report = api.strip_sizes(model, tmp_path / "freed.onnx")
    assert set(report.freed["X"]) == {0, 2, 3}, report.text()
    freed = onnx.load(str(tmp_path / "freed.onnx"))
    x = feeds((2, 2, 9, 17))
    want = np.concatenate([run_model(back_to_image_size((9, 17), target=(32, 32)), {"X": x["X"][i:i + 1]})[0]
                           for i in range(2)])
    np.testing.assert_allclose(run_model(freed, x)[0], want, atol=1e-5)


def test_fix_sizes_folds_the_shape_arithmetic_away():
    """The sub-pixel lowering of a symbolic net computes its reshape targets from Shape; fixed, none stay."""
    lowered, _ = api.convert_model(examples.build("unet3d"))
    assert count_ops(lowered, "Shape") > 0
    fixed, _ = size_edits.fix(lowered, {"X": (1, 1, 16, 16, 16)})
    assert count_ops(fixed, "Shape") == 0 and count_ops(fixed, "Concat") == 2      # the U-Net's own joins
    assert all(d.HasField("dim_value") for d in fixed.graph.output[0].type.tensor_type.shape.dim)
    assert len(fixed.graph.value_info) > 20                                         # shapes propagated
    assert_equivalent(lowered, fixed, shapes={"X": (1, 1, 16, 16, 16)}, runs=1)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_pad_to_valid_runs_any_size_and_is_unchanged_at_admissible_ones(free_ddae, mode):
    padded, report = api.convert_model(free_ddae, pad_to_valid=mode)
    assert report.alignment.lossless                               # it agrees where nothing is lost: 61 + 16n
    assert_equivalent(free_ddae, padded, runs=2, alignment=report.alignment)
    x = feeds((1, 1, 100, 90))
    got = run_model(padded, x)[0]
    reference = run_model(free_ddae, {"X": np.pad(x["X"], [(0, 0), (0, 0), (0, 9), (0, 3)], mode=mode)})[0]
    assert got.shape == (1, 1, 100, 90)
    np.testing.assert_array_equal(got, reference[:, :, :100, :90])


@pytest.fixture(scope="module")
def sliding_lenet():
    fc, report = api.convert_model(examples.build("lenet"), targets=["fully-convolutional"])
    assert not report.remaining and count_ops(fc, "Gemm") == 0 and count_ops(fc, "Flatten") == 0
    free, _ = size_edits.strip(fc)
    return fc, free


def test_the_classifier_made_fully_convolutional_gives_the_same_numbers(sliding_lenet):
    fc, _ = sliding_lenet
    x = feeds((3, 1, 28, 28))
    original, got = run_model(examples.build("lenet"), x)[0], run_model(fc, x)[0]
    assert got.shape == (3, 10, 1, 1)
    np.testing.assert_allclose(got.reshape(3, 10), original, atol=1e-6)


def windows(model_out, x, step):
    """Each output position against the 28x28 classifier on the crop it covers."""
    classifier = examples.build("lenet")
    for i in range(model_out.shape[2]):
        crop = x[:, :, step * i: step * i + 28, :]
        np.testing.assert_allclose(model_out[:, :, i, 0], run_model(classifier, {"X": crop})[0], atol=1e-5)


def test_it_slides_over_280x28_in_64_windows_of_step_4(sliding_lenet):
    _, free = sliding_lenet
    x = feeds((1, 1, 280, 28))["X"]
    out = run_model(free, {"X": x})[0]
    assert out.shape == (1, 10, 64, 1)
    windows(out, x, 4)


def test_dense_gives_253_windows_of_step_1(sliding_lenet):
    fc, free = sliding_lenet
    dense, report = api.convert_model(free, dense=True)
    x = feeds((1, 1, 280, 28))["X"]
    out = run_model(dense, {"X": x})[0]
    assert out.shape == (1, 10, 253, 1)
    windows(out, x, 1)
    assert report.alignment.strides == (4, 4)


def test_dense_is_the_strided_net_on_shifted_inputs_interleaved(sliding_lenet):
    """dense[..., 4q + r, 4p + c] == strided(x shifted by (r, c))[..., q, p], for every shift."""
    _, free = sliding_lenet
    dense, _ = api.convert_model(free, dense=True)
    x = feeds((1, 1, 43, 39))["X"]
    out = run_model(dense, {"X": x})[0]
    for r in range(4):
        for c in range(4):
            shifted = run_model(free, {"X": x[:, :, r:r + 40, c:c + 36]})[0]
            np.testing.assert_allclose(out[:, :, r::4, c::4][:, :, :shifted.shape[2], :shifted.shape[3]], shifted,
                                       atol=1e-5)


def test_dense_needs_a_fully_convolutional_net():
    with pytest.raises(UnsupportedGraph, match="is not fully convolutional.*fully-convolutional"):
        api.convert_model(examples.build("lenet"), dense=True)


def test_dense_needs_average_pool_dilations():
    b = NetBuilder("avg", seed=2, opset=17)
    x = b.op("AveragePool", [b.input("X", ["N", 1, "H", "W"])], kernel_shape=[2, 2], strides=[2, 2])
    b.output(b.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2]))
    with pytest.raises(UnsupportedGraph, match="only from opset 19"):
        api.convert_model(b.build(), dense=True)


def test_fix_sizes_folds_shape_arithmetic_with_constant_of_shape():
    """MONAI's BasicUNet computes its skip pads with ConstantOfShape, whose `value` is a tensor attribute:
    folding it once raised a TypeError traceback."""
    from onnx import helper, numpy_helper
    nodes = [helper.make_node("Shape", ["X"], ["s"]),
             helper.make_node("Size", ["s"], ["rank"]),
             helper.make_node("Mul", ["rank", "two"], ["n"]),
             helper.make_node("Reshape", ["n", "one"], ["n1"]),
             helper.make_node("ConstantOfShape", ["n1"], ["pads"], value=numpy_helper.from_array(np.array([1], np.int64))),
             helper.make_node("Pad", ["X", "pads"], ["Y"])]
    graph = helper.make_graph(nodes, "pads", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 2, "L"])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(2, np.int64), "two"),
                               numpy_helper.from_array(np.array([1], np.int64), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fixed, report = size_edits.fix(model, {"X": (1, 2, 5)})
    assert {p.name: p.applied for p in report.passes}["fold-shape-computations"] >= 1
    assert "ConstantOfShape" not in {n.op_type for n in fixed.graph.node}
    x = feeds((1, 2, 5))
    np.testing.assert_array_equal(run_model(fixed, x)[0], run_model(model, x)[0])


def test_a_converted_batch_1_model_can_have_its_batch_freed():
    """convert, then strip-sizes: every view of the interleave keeps the batch, so the freed model runs at any
    batch and size like the original freed (a view that dropped the batch of 1 folded batch 2 into depth)."""
    from onnxport.models import convtranspose
    model = convtranspose.build([4, 5, 6], 3, 2, [2, 2, 2], strides=[2, 2, 2], batch=1, consumer="Relu")
    lowered, _ = api.convert_model(model)
    freed_lowered, report = size_edits.strip(lowered)
    freed_original, _ = size_edits.strip(model)
    assert report.freed["X"] == {0: "N", 2: "D", 3: "H", 4: "W"}
    assert_equivalent(freed_original, freed_lowered, shapes={"X": (2, 3, 9, 10, 8)}, runs=1)


def test_a_model_fixed_at_batch_2_is_checked_at_batch_4_against_two_batch_2_runs(tmp_path):
    """The halves run at the batch the original is fixed at: at batch 1 onnxruntime refused them."""
    from onnxport.models import convtranspose
    model = convtranspose.build([4, 4, 4], kernel=[2, 2, 2], strides=[2, 2, 2], cin=2, cout=2, batch=2)
    report = api.strip_sizes(model, tmp_path / "freed.onnx")
    assert report.freed["X"][0] == "N"
    assert report.verification.ok, report.verification.summary()
    stacked = [r for r in report.verification.runs if r.why.startswith("batch 4 against two batch-2 runs")]
    assert len(stacked) == 1 and stacked[0].shapes["X"][0] == 4
    assert "batch 4 equals two batch-2 runs stacked" in report.verification.summary()


def test_a_batch_a_view_regroups_with_other_axes_stays_fixed():
    """(1, 4, h, w) viewed as (2, 2, h, w) and transposed: at batch 2 a freed model would mix the samples (it
    answered (1, 8, h, w)), so strip-sizes keeps the batch and says why; naming it with --axes is an error."""
    b = NetBuilder("fold_batch", seed=1)
    x = b.conv(b.input("X", [1, 2, 6, 6]), 2, 4, [3, 3], "c", pads=[1, 1, 1, 1])
    x = b.op("Reshape", [x, b.const(np.array([2, 2, 6, 6]))], "split")
    x = b.op("Transpose", [x], "swap", perm=[1, 0, 2, 3])
    x = b.op("Reshape", [x, b.const(np.array([1, 4, 6, 6]))], "back")
    b.output(x, [1, 4, 6, 6])
    model = b.build()
    freed, report = size_edits.strip(model)
    assert report.freed["X"] == {2: "H", 3: "W"}
    assert "does not lead with the batch" in report.kept["X"][0]
    assert [d.dim_value for d in freed.graph.input[0].type.tensor_type.shape.dim[:2]] == [1, 2]
    with pytest.raises(UnsupportedGraph, match="cannot free X axis 0: output 'back_1' does not lead with the batch"):
        size_edits.strip(model, axes=[0, 2, 3])


def test_an_input_that_carries_the_batch_is_freed_with_it_under_one_name():
    """A diffusion net's timesteps (one per item) are freed with the images' batch, as N for both; a
    feature vector input (N, F) alone frees its batch."""
    b = NetBuilder("two_inputs", seed=1)
    x = b.input("x", [1, 2, 8, 8])
    t = b.input("t", [1], onnx.TensorProto.INT64)
    scale = b.op("Unsqueeze", [b.op("Cast", [t], to=onnx.TensorProto.FLOAT), b.const(np.array([1, 2, 3]))])
    b.output(b.op("Mul", [b.conv(x, 2, 2, [3, 3], "c", pads=[1, 1, 1, 1]), scale]))
    freed, report = size_edits.strip(b.build())
    assert report.freed == {"x": {0: "N", 2: "H", 3: "W"}, "t": {0: "N"}}, report.text()
    dims = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in freed.graph.input}
    assert dims == {"x": ["N", 2, "H", "W"], "t": ["N"]}
    result = api.verify_models(b.build(), freed)
    assert result.ok and any("batch 2 against two batch-1 runs" in r.why for r in result.runs), result.summary()

    v = NetBuilder("vector", seed=1)
    z = v.input("z", [1, 16])
    v.output(v.op("Relu", [z]))
    assert size_edits.strip(v.build())[1].freed == {"z": {0: "N"}}


def test_a_class_token_joined_to_the_tokens_keeps_the_batch_fixed_and_says_where():
    """A (1, 1, C) constant concatenated to (N, L, C) tokens holds the batch at 1 (a ViT's class token)."""
    b = NetBuilder("cls", seed=1)
    x = b.input("x", [1, 4, 8, 8])
    tokens = b.op("Transpose", [b.op("Reshape", [x, b.const(np.array([1, 4, 64]))])], perm=[0, 2, 1])
    joined = b.op("Concat", [b.const(np.ones((1, 1, 4), np.float32)), tokens], axis=1)
    b.output(joined)
    _, report = size_edits.strip(b.build(), axes=None)
    assert 0 in report.kept["x"] and "Concat" in report.kept["x"][0] and "fixed size 1" in report.kept["x"][0]


def test_fix_sizes_folds_an_expand_of_a_constant_and_makes_an_expand_to_its_own_shape_an_identity():
    """ViT's cls token expanded to the batch (a constant once the batch is fixed) and VNet's input expanded
    to Shape(x) (itself): neither Expand is left, and nothing changes; an Expand that does broadcast stays."""
    from onnx import helper, numpy_helper
    token = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(1, 1, 6), "token")
    nodes = [helper.make_node("Shape", ["X"], ["s"]),
             helper.make_node("Expand", ["X", "s"], ["same"]),
             helper.make_node("Slice", ["s", "zero", "one"], ["batch"]),
             helper.make_node("Concat", ["batch", "ones"], ["target"], axis=0),
             helper.make_node("Expand", ["token", "target"], ["tokens"]),
             helper.make_node("Concat", ["tokens", "same"], ["joined"], axis=1),
             helper.make_node("Expand", ["joined", "wide"], ["Y"])]
    inits = [token, numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "one"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "ones"),
             numpy_helper.from_array(np.array([2, 1, 1, 1], np.int64), "wide")]
    graph = helper.make_graph(nodes, "expands", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 3, 6])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fixed, report = size_edits.fix(model, {"X": (2, 3, 6)})
    assert [n.op_type for n in fixed.graph.node].count("Expand") == 1          # the broadcasting one
    assert "Identity" in {n.op_type for n in fixed.graph.node}
    x = feeds((2, 3, 6))
    np.testing.assert_array_equal(run_model(fixed, x)[0], run_model(model, x)[0])
