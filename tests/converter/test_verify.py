"""verify: equal models pass, a 1e-3 weight error fails and is located, sizes and providers are reported."""
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from converter import api, run_plan, verify as verify_mod
from converter.errors import BadArgument, BadInput
from models import convtranspose, examples


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
    result = verify_mod.verify(model, converted, provider="auto", runs=3)     # CUDA where it loads: TF32 off
    assert result.ok
    assert result.provider == ("CUDAExecutionProvider" if verify_mod.cuda_usable() else "CPUExecutionProvider")
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
    assert verify_mod.providers_for("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(BadArgument, match="unknown provider"):
        verify_mod.providers_for("tpu")
    if not verify_mod.cuda_usable():
        with pytest.raises(BadArgument, match="does not load"):
            verify_mod.providers_for("cuda")
        assert verify_mod.providers_for("auto") == ["CPUExecutionProvider"]


def test_the_cuda_probe_is_quiet(capfd):
    verify_mod.cuda_usable.cache_clear()
    verify_mod.cuda_usable()
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


def test_nan_in_the_same_places_passes_and_elsewhere_fails():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    assert verify_mod.compare("y", a, a.copy(), 1e-4, 1e-4).ok
    assert not verify_mod.compare("y", a, np.array([1.0, 2.0, 3.0], np.float32), 1e-4, 1e-4).ok


def test_an_output_with_no_finite_value_proves_nothing_and_fails():
    blown_up = np.array([np.inf, -np.inf, np.nan], np.float32)
    check = verify_mod.compare("y", blown_up, blown_up.copy(), 1e-4, 1e-4)
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
    with pytest.raises(BadInput, match="does not run at any of 3 sizes tried.*filter number not equal"):
        verify_mod.verify(model, model, provider="cpu", runs=3)
