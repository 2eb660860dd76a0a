"""verify: equal models pass, a 1e-3 weight error fails and is located, sizes and providers are reported."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxport.converter import api
from onnxport.converter.files import graph_io
from onnxport.converter import runtime
from onnxport.converter.verification import comparison, run_plan, sessions, verify as verify_mod
from onnxport.errors import BadArgument, BadInput
from onnxport.models import convtranspose, examples
from onnxport.models._builder import NetBuilder
from tests.cli.test_cli import assert_one_line_error, run
from tests.helpers import cli_with_peak, count_ops


def perturbed(model: onnx.ModelProto, name: str, delta: float) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for init in m.graph.initializer:
        if init.name == name:
            arr = numpy_helper.to_array(init) + np.asarray(delta, np.float32)
            init.CopyFrom(numpy_helper.from_array(arr, name))
    return m


def test_a_model_matches_itself_and_its_rewrite_on_several_sizes():
    model = examples.build("unet3d")
    converted, _ = api.convert_model(model)
    assert count_ops(converted, "ConvTranspose") == 0 < count_ops(model, "ConvTranspose")    # a rewrite, not a copy
    result = verify_mod.verify(model, converted, provider="auto", runs=3)     # CUDA where it loads: TF32 off
    assert result.ok
    assert result.provider == ("CUDAExecutionProvider" if sessions.cuda_usable() else "CPUExecutionProvider")
    sizes = [tuple(r.shapes["X"]) for r in result.runs]
    assert len(set(sizes)) == 3 and all(len(set(s[2:])) == 3 for s in sizes)      # an axis mix-up would show
    assert {s[0] for s in sizes} == {1, 2, 3} and all(d % 4 == 0 for s in sizes for d in s[2:])
    assert "equivalent on 3 run(s)" in result.summary() and "4 + 4n" in result.runs[0].why


def test_a_small_weight_error_is_caught_and_located():
    """Every element of one rewritten weight off by 1e-3: caught at the default tolerance, and the first
    diverging tensor named is that layer's output."""
    model = examples.build("unet3d")
    converted, _ = api.convert_model(model)
    weight = next(i.name for i in converted.graph.initializer if "up1" in i.name and "weight" in i.name)
    result = verify_mod.verify(model, perturbed(converted, weight, 1e-3), provider="auto", runs=2)
    assert not result.ok
    assert "mismatch" in result.summary()
    assert result.divergence == "up1_1"


def test_shape_mismatch_and_a_model_that_fails_to_run_are_mismatches():
    a = convtranspose.build(["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2])
    b = convtranspose.build(["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2], output_padding=[1, 1, 1])
    result = verify_mod.verify(a, b, provider="cpu", runs=1)
    assert not result.ok and "shape/dtype" in result.summary()
    broken = onnx.ModelProto()
    broken.CopyFrom(a)
    broken.graph.node[0].op_type = "NoSuchOp"
    result = verify_mod.verify(a, broken, provider="cpu", runs=1)
    assert not result.ok and "cannot load the second model" in result.summary()


def test_shape_overrides_are_used_and_checked():
    model = convtranspose.build(["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2], batch="N")
    result = verify_mod.verify(model, model, shapes={"X": (2, 2, 3, 4, 5)}, provider="cpu", runs=2)
    assert [r.shapes["X"] for r in result.runs] == [[2, 2, 3, 4, 5]] * 2
    with pytest.raises(BadArgument, match="not a graph input"):
        verify_mod.verify(model, model, shapes={"Y": (1, 2, 3, 4, 5)}, provider="cpu")
    with pytest.raises(BadArgument, match="rank 5"):
        verify_mod.verify(model, model, shapes={"X": (1, 2, 3)}, provider="cpu")
    with pytest.raises(BadArgument, match="fixed to 2"):
        verify_mod.verify(model, model, shapes={"X": (1, 3, 3, 3, 3)}, provider="cpu")   # channels are fixed


def test_sizes_come_from_the_admissible_sets_smallest_first():
    """unet3d runs at multiples of 4: the first run takes the three smallest from 8, one per axis."""
    assert run_plan.plan(examples.build("unet3d")).first == {"X": (1, 1, 8, 12, 16)}


def test_provider_choice():
    assert sessions.providers_for("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(BadArgument, match="unknown provider"):
        sessions.providers_for("tpu")
    if not sessions.cuda_usable():
        with pytest.raises(BadArgument, match="does not load"):
            sessions.providers_for("cuda")
        assert sessions.providers_for("auto") == ["CPUExecutionProvider"]


def test_the_cuda_probe_is_quiet(capfd):
    runtime.cuda_problem.cache_clear()
    sessions.cuda_usable()
    captured = capfd.readouterr()
    assert "CUDA" not in captured.err and "Error" not in captured.err


def test_different_inputs_are_an_error():
    a = convtranspose.build([2, 2, 2], kernel=[2, 2, 2])
    b = onnx.ModelProto()
    b.CopyFrom(a)
    b.graph.input[0].name = "Z"
    b.graph.node[0].input[0] = "Z"
    with pytest.raises(BadInput, match="different graph inputs"):
        verify_mod.verify(a, b, provider="cpu")


@pytest.mark.parametrize("atol, rtol", [(1e-4, 1e-4), (1e-3, 0.0), (0.0, 1e-3), (0.0, 0.5)])
def test_the_bound_is_atol_plus_rtol_times_the_first_models_largest_value(atol, rtol):
    """An error at 0.99 of atol + rtol*max|a| passes and at 1.01 fails. The error sits on a's largest
    value and pushes b's beyond it: a bound taken from max|b| (or any looser one) lets 1.01 pass."""
    a = np.array([0.5, -2.5, 1.0], np.float32)
    bound = atol + rtol * 2.5
    for fraction, ok in ((0.99, True), (1.01, False)):
        b = a.astype(np.float64) - np.array([0.0, fraction * bound, 0.0])
        check = comparison.compare("y", a.astype(np.float64), b, atol, rtol)
        assert np.max(np.abs(b)) > np.max(np.abs(a))
        assert check.ok is ok and check.bound == pytest.approx(bound), (fraction, check)


def test_nan_in_the_same_places_passes_and_elsewhere_fails():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    assert comparison.compare("y", a, a.copy(), 1e-4, 1e-4).ok
    assert not comparison.compare("y", a, np.array([1.0, 2.0, 3.0], np.float32), 1e-4, 1e-4).ok


def test_an_output_with_no_finite_value_proves_nothing_and_fails():
    blown_up = np.array([np.inf, -np.inf, np.nan], np.float32)
    check = comparison.compare("y", blown_up, blown_up.copy(), 1e-4, 1e-4)
    assert not check.ok and "no finite value" in check.note


def test_integer_and_boolean_inputs_get_feeds():
    g = helper.make_graph([helper.make_node("Cast", ["i"], ["o"], to=1)], "g",
                          [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, ["N", 3])],
                          [helper.make_tensor_value_info("o", onnx.TensorProto.FLOAT, ["N", 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    assert verify_mod.verify(m, m, provider="cpu", runs=2).ok


def test_a_reference_that_cannot_run_is_an_error_not_a_hang():
    model = convtranspose.build([3, 3, 3], kernel=[2, 2, 2], strides=[2, 2, 2])
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 3      # the weight wants 2 channels
    with pytest.raises(BadInput, match=r"does not run at any of 1 sizes tried \(X=1x3x3x3x3: fixed sizes; .*filter "
                                       r"number not equal.*; its inputs are fixed at those sizes$"):
        verify_mod.verify(model, model, provider="cpu", runs=3)


# ---------------------------------------------------------------- regressions from real exports (issue 10)

REAL = Path(__file__).parents[1] / "data" / "real_exports"


def two_outputs(order) -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["X"], ["pos"]), helper.make_node("Neg", ["X"], ["neg"])]
    outputs = {n: helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["N", 3]) for n in ("pos", "neg")}
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 3])],
                              [outputs[n] for n in order])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def test_outputs_are_paired_by_name_and_by_position_only_when_names_differ():
    assert verify_mod.verify(two_outputs(["pos", "neg"]), two_outputs(["neg", "pos"]), provider="cpu").ok
    renamed = two_outputs(["pos", "neg"])
    renamed.graph.output[0].name, renamed.graph.node[0].output[0] = "relu", "relu"
    result = verify_mod.verify(two_outputs(["pos", "neg"]), renamed, provider="cpu")
    assert result.ok and "outputs paired by position" in result.summary()


def test_sizes_are_taken_from_whichever_model_fixes_them():
    dynamic = onnx.load(str(REAL / "monai_unet.torchscript.dynamic.onnx"))
    fixed = onnx.load(str(REAL / "monai_unet.torchscript.fixed.onnx"))
    for a, b in ((dynamic, fixed), (fixed, dynamic)):
        result = verify_mod.verify(a, b, provider="cpu", runs=1)
        assert result.ok, result.summary()
        assert result.runs[0].shapes["x"] == [1, 1, 32, 32, 32]


def test_a_second_model_that_fails_carries_the_whole_onnxruntime_message():
    """onnxruntime names the shapes at the end of a long message; cutting it at 300 characters lost them."""
    a = two_outputs(["pos", "neg"])
    b = onnx.ModelProto()
    b.CopyFrom(a)
    b.graph.node[1].output[0] = "flat"
    b.graph.node.append(helper.make_node("Reshape", ["flat", "target"], ["neg"]))
    b.graph.initializer.append(numpy_helper.from_array(np.array([7, -1], np.int64), "target"))
    result = verify_mod.verify(a, b, provider="cpu", runs=1)
    assert not result.ok and "requested shape:{7,-1}" in result.summary()


def test_default_verification_of_a_dynamic_x8_decoder_stays_within_the_memory_budget():
    """It took 58 s and 8.3 GB at sizes 16-48; its outputs are 8 times longer than its input, so it is
    run like a latent, from the smallest admissible sizes up, each run estimated under 1 GiB, and a
    smaller budget falls back to the smallest sizes and says so."""
    model = onnx.load(str(REAL / "decoder3d.torchscript.dynamic.onnx"))
    planned = run_plan.plan(model, runs=3)
    estimate = run_plan._Estimate(graph_io.to_graph(model), run_plan.DEFAULT_BUDGET)
    first = [alternatives[0] for alternatives in planned.runs[:3]]
    assert [s.shapes["x"] for s in first] == [(1, 4, 1, 2, 3), (2, 4, 2, 3, 1), (3, 4, 3, 1, 2)]
    assert all(estimate.bytes(s.shapes) <= run_plan.DEFAULT_BUDGET for s in first)
    tight = run_plan.plan(model, runs=1, budget=64 << 10)
    assert tight.first["x"] == (1, 4, 1, 1, 1) and "memory budget" in tight.runs[0][0].why


def test_a_freed_batch_folded_into_the_depth_is_caught_at_batch_2():
    """The defect strip-sizes once had: an unflatten target (1, -1, 8, H, W) is right at batch 1 and
    returns batch 1 with the depth doubled at batch 2. Verification must say mismatch."""
    from onnxport.converter import size_edits
    original = onnx.load(str(REAL / "depth_into_batch.torchscript.fixed.onnx"))
    freed, _ = size_edits.strip(original, axes=[0])
    unflatten = next(n for n in freed.graph.node if n.op_type == "Reshape" and n.output[0] not in
                     {i for m in freed.graph.node if m.op_type == "Reshape" for i in m.input[:1]} and
                     any(m.op_type == "Transpose" and m.input[0] == n.output[0] for m in freed.graph.node))
    freed.graph.initializer.append(numpy_helper.from_array(np.array([1, -1, 8, 16, 16], np.int64), "baked"))
    unflatten.input[1] = "baked"
    result = verify_mod.verify(original, freed, provider="cpu")
    assert not result.ok
    bad = next(r for r in result.runs if not r.ok)
    assert "batch 2 against two batch-1 runs" in bad.why and bad.shapes["x"][0] == 2


@pytest.mark.parametrize("body, why", [
    (lambda x: [helper.make_node("ReduceMean", [x], ["Y"], axes=[0], keepdims=1)], "works along the batch"),
    (lambda x: [helper.make_node("Transpose", [x], ["t"], perm=[1, 0, 2, 3]),
                helper.make_node("Transpose", ["t"], ["Y"], perm=[1, 0, 2, 3])], None),
    (lambda x: [helper.make_node("Softmax", [x], ["Y"], axis=0)], "works along the batch"),
    (lambda x: [helper.make_node("Transpose", [x], ["t"], perm=[1, 0, 2, 3]),
                helper.make_node("Conv", ["t", "w"], ["Y"])], "takes it as channels"),
    (lambda x: [helper.make_node("Transpose", [x], ["t"], perm=[1, 0, 2, 3]),
                helper.make_node("MaxPool", ["t"], ["p"], kernel_shape=[1, 1]),
                helper.make_node("Transpose", ["p"], ["Y"], perm=[1, 0, 2, 3])], "batch outside its first dim"),
])
def test_nets_that_mix_samples_are_found_and_the_batch_2_check_is_skipped_with_the_reason(body, why):
    from onnxport.converter.files import graph_io
    from onnxport.converter.sizes import admissible_sizes, batch_independence
    nodes = body("X")
    weight = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    graph = helper.make_graph(nodes, "mix", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [1, 2, 3, 3])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    g = graph_io.to_graph(model)
    found = batch_independence.coupling(g, admissible_sizes.static_shapes(g, {"X": [1, 2, 3, 3]}), g.inputs[0])
    assert (found is None) if why is None else (why in found)


def test_a_rank_0_bool_input_gets_a_feed_onnxruntime_takes():
    """An If whose condition is a graph input: the model once failed against itself."""
    then = helper.make_graph([helper.make_node("Relu", ["X"], ["a"])], "then", [],
                             [helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Neg", ["X"], ["b"])], "else", [],
                              [helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [2])])
    graph = helper.make_graph([helper.make_node("If", ["c"], ["Y"], then_branch=then, else_branch=other)], "g",
                              [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [2]),
                               helper.make_tensor_value_info("c", onnx.TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert verify_mod.verify(model, model, provider="cpu").ok


# ---------------------------------------------------------------- saved inputs and outputs (issue 12)


def polygraphy_array(array: np.ndarray) -> dict:
    import base64
    import io
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"array": base64.b64encode(buffer.getvalue()).decode(), "polygraphy_class": "ndarray"}


@pytest.mark.parametrize("fmt", ["npz", "polygraphy"])
def test_a_port_is_checked_against_what_the_framework_computed(tmp_path, fmt):
    """The decoder's PyTorch outputs (stored with the fixture) as --expected, its inputs as --inputs."""
    import json
    stored = np.load(REAL / "decoder3d.npz")
    pairs = [(stored["x1"], stored["y1"]), (stored["x2"], stored["y2"])]
    if fmt == "npz":
        np.savez(tmp_path / "in.npz", **{f"x/{i}": x for i, (x, _) in enumerate(pairs)})
        np.savez(tmp_path / "out.npz", **{f"y/{i}": y for i, (_, y) in enumerate(pairs)})
        inputs, expected = tmp_path / "in.npz", tmp_path / "out.npz"
    else:
        (tmp_path / "in.json").write_text(json.dumps([{"x": polygraphy_array(x)} for x, _ in pairs]))
        iterations = [{"outputs": {"y": polygraphy_array(y)}, "runtime": 0.0, "runner_name": "torch",
                       "polygraphy_class": "IterationResult"} for _, y in pairs]
        (tmp_path / "out.json").write_text(json.dumps({"lst": [["torch", iterations]], "polygraphy_class": "RunResults"}))
        inputs, expected = tmp_path / "in.json", tmp_path / "out.json"
    port, _ = api.convert_model(onnx.load(str(REAL / "decoder3d.torchscript.dynamic.onnx")))
    result = api.verify_models(port, None, api.VerifyOptions(inputs=str(inputs), expected=str(expected)))
    assert result.ok and len(result.runs) == 2 and "compared with the saved outputs" in result.summary()
    strict = api.VerifyOptions(inputs=str(inputs), expected=str(expected), per_output=(("y", 0.0, 0.0),))
    failed = api.verify_models(port, None, strict)                  # its own bound for one output
    assert not failed.ok and failed.runs[0].outputs[0].bound == 0.0


def test_saved_data_that_does_not_fit_is_one_line(tmp_path):
    from onnxport.errors import BadArgument
    np.savez(tmp_path / "in.npz", wrong=np.zeros(3, np.float32))
    (tmp_path / "junk.json").write_text("{\"nothing\": 1}")
    model = onnx.load(str(REAL / "decoder3d.torchscript.dynamic.onnx"))
    with pytest.raises(BadInput, match="saved input set 0 lacks x"):
        api.verify_models(model, model, api.VerifyOptions(inputs=str(tmp_path / "in.npz")))
    with pytest.raises(BadInput, match="neither saved inputs nor RunResults"):
        api.verify_models(model, model, api.VerifyOptions(inputs=str(tmp_path / "junk.json")))
    with pytest.raises(BadArgument, match="--expected needs the inputs"):
        api.verify_models(model, None, api.VerifyOptions(expected=str(tmp_path / "in.npz")))


def constant_allocation(elements: int) -> onnx.ModelProto:
    """y = x + sum(ConstantOfShape(elements) of ones): memory that no input size scales."""
    from onnx import TensorProto
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["s"], ["big"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
         helper.make_node("ReduceSum", ["big"], ["r"], keepdims=0), helper.make_node("Add", ["x", "r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.array([elements], np.int64), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_max_memory_bounds_a_constant_allocation_no_input_size_scales(tmp_path, capsys):
    """750M elements (2.8 GiB) under --max-memory 64M: once "equivalent" at 3 GB; now one line naming the
    tensor and the flag, before any run. The same model within the budget still verifies."""
    onnx.save(constant_allocation(750_000_000), str(tmp_path / "big.onnx"))
    code, _, err, peak_mib = cli_with_peak("verify", tmp_path / "big.onnx", tmp_path / "big.onnx", "--max-memory", "64M")
    assert_one_line_error(code, err)
    assert "the tensor 'big' alone takes 2861 MiB; give more with --max-memory 6G" in err
    assert peak_mib < 512
    small = constant_allocation(1000)
    assert api.verify_models(small, small, api.VerifyOptions(max_memory=64 << 20)).ok


def test_saved_inputs_are_bounded_by_what_they_declare_before_anything_is_read(tmp_path):
    """Set numbers far apart (X/0, X/99999999: 10^8 empty sets) and a small deflated file whose .npy header
    declares 8 GiB are refused before allocating: the process stays small."""
    import io
    import zipfile
    np.savez(tmp_path / "keys.npz", **{"x/0": np.zeros((1, 32, 1, 1, 1), np.float32),
                                       "x/99999999": np.zeros((1, 32, 1, 1, 1), np.float32)})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, 32, 1 << 26)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            member.write(b"\0" * (64 << 20))            # the rest is absent: the header alone must be refused
    for name, says in (("keys.npz", "sets numbered up to 99999999 but only 2 arrays"),
                       ("bomb.npz", "its arrays declare more than 4 GiB")):
        code, _, err, peak_mib = cli_with_peak("verify", "example:gan3d", "example:gan3d", "--inputs", tmp_path / name)
        assert_one_line_error(code, err)
        assert says in err and peak_mib < 512


@pytest.mark.parametrize("shape, says", [((1, 3, 2, 2, 2), "'x' has shape 1x3x2x2x2, the model's 'x' is"),
                                         ((1, 4, 2, 2), "'x' has shape 1x4x2x2, the model's 'x' is")])
def test_saved_inputs_of_the_wrong_shape_are_bad_input_naming_both_shapes(tmp_path, capsys, shape, says):
    """verify --inputs with arrays the model cannot take: one line, exit 2, naming the input and both shapes."""
    from onnxport import cli
    np.savez(tmp_path / "in.npz", x=np.zeros(shape, np.float32))
    model = str(REAL / "decoder3d.torchscript.dynamic.onnx")
    code = cli.main(["verify", model, model, "--inputs", str(tmp_path / "in.npz")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and says in err and "Traceback" not in err, err


def _runs_at_multiples_of_32_only():
    """Past an op the analysis does not model, a view into 32-long windows on both axes (windowed
    attention's partition): nothing proves a set, and most small sizes fail."""
    b = NetBuilder("windows", seed=1)
    x = b.input("X", ["N", 2, "H", "W"])
    t = b.op("LpNormalization", [x])
    n, c = b.op("Shape", [t], start=0, end=1), b.const(np.array([2], np.int64))
    h = b.op("Div", [b.op("Shape", [t], start=2, end=3), b.const(np.array([32], np.int64))])
    w = b.op("Div", [b.op("Shape", [t], start=3, end=4), b.const(np.array([32], np.int64))])
    k = b.const(np.array([32], np.int64))
    target = b.op("Concat", [n, c, h, k, w, k], axis=0)
    b.output(b.op("ReduceMean", [b.op("Reshape", [t, target])], axes=[3, 5]))
    return b.build()


def test_verification_finds_sizes_where_nothing_is_proven_by_trying_uniform_multiples_first():
    model = _runs_at_multiples_of_32_only()
    result = verify_mod.verify(model, model, provider="cpu", runs=2)
    assert result.ok and len(result.runs) == 2, result.summary()
    assert all(r.shapes["X"][2] % 32 == 0 and r.shapes["X"][3] % 32 == 0 for r in result.runs)
    assert "tried in turn (no proven set: the analysis stops at a node)" in result.runs[0].why


def test_when_no_size_runs_the_error_says_what_was_tried_and_which_flag_gives_sizes():
    b = NetBuilder("never", seed=1)
    x = b.input("X", ["N", 2, "H", "W"])
    t = b.op("LpNormalization", [x])
    b.output(b.op("Reshape", [t, b.const(np.array([1, 2, 7, 7, 7], np.int64))]))   # 686 elements: no size
    model = b.build()
    with pytest.raises(BadInput) as e:
        verify_mod.verify(model, model, provider="cpu")
    text = str(e.value)
    assert text.startswith("the first model does not run at any of ") and "tried in turn" in text
    assert text.endswith("give sizes it runs at with --shape X=1x2xHxW") and "\n" not in text


def test_strip_sizes_records_the_exported_sizes_and_verification_tries_them_first():
    from onnxport.converter import size_edits
    model = examples.build("unet3d")
    fixed = size_edits.fix(model, {"X": (1, 1, 12, 16, 20)})[0]
    freed, _ = size_edits.strip(fixed)
    recorded = {p.key: p.value for p in freed.metadata_props}
    assert recorded[run_plan.EXPORTED_SIZES] == "X=1x1x12x16x20"
    first = run_plan.plan(freed, runs=1).runs[0][0]
    assert first.shapes == {"X": (1, 1, 12, 16, 20)} and "exported at" in first.why
