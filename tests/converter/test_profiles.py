"""Runtime profiles: for each, a models/ net that violates it converts into one that satisfies it (by the
profile's own checker and by an independent check written here from the runtime's documented limits),
and verifies. Plus loading user profiles and their errors."""
from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime.tools.mobile_helpers as mobile_helpers
import pytest
from onnx import numpy_helper

from onnxport.converter import api, profiles, shape_inference
from onnxport.converter.files import graph_io
from onnxport.errors import BadArgument
from onnxport.models import convtranspose, examples, resize
from tests.helpers import assert_same_as_original, assert_structurally_valid

UNET_SIZES = {"X": (1, 1, 16, 24, 32)}


def _inferred(model: onnx.ModelProto) -> dict[str, list]:
    """Tensor name -> dims (ints, or strings where symbolic), by onnx shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    found = {i.name: list(i.dims) for i in model.graph.initializer}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        if vi.type.tensor_type.HasField("shape"):
            found[vi.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param or "?"
                              for d in vi.type.tensor_type.shape.dim]
    return found


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _resized_axes(node, model) -> list[int]:
    scales = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}.get(node.input[2])
    return [a for a, s in enumerate(scales) if s != 1] if scales is not None else []


# What each runtime's documents say it cannot run, written out independently of converter.profiles:
# node, dims of every tensor, model -> a complaint or None.
def _coreml(node, dims, model):
    w = dims.get(node.input[1], []) if node.op_type in ("Conv", "ConvTranspose") else []
    if node.op_type == "Conv" and len(w) == 5:
        return "3-D Conv"
    if node.op_type in ("MaxPool", "AveragePool") and len(_attr(node, "kernel_shape")) == 3:
        return "3-D pool"
    if node.op_type == "ConvTranspose" and (_attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID")
                                            or _attr(node, "output_shape") or any(_attr(node, "output_padding", []))
                                            or len(set(_attr(node, "pads", [0]))) > 1):
        return "ConvTranspose padding CoreML cannot express"
    if node.op_type == "Resize" and len(dims[node.input[0]]) != 4:
        return "Resize not 4-D"
    return None


def _nnapi(node, dims, model):
    if node.op_type in ("ConvTranspose", "Shape"):
        return f"{node.op_type} (not in NNAPI's op table)"
    if not all(isinstance(d, int) for d in dims.get(node.input[0], [])):
        return "symbolic sizes (NNAPI takes static shapes only)"
    if node.op_type in ("Conv", "MaxPool", "AveragePool", "Resize") and len(dims[node.input[0]]) != 4:
        return f"{node.op_type} not 2-D"
    return None


def _xnnpack(node, dims, model):
    if node.op_type in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        x = dims[node.input[0]]
        if len(x) != 4 or not all(isinstance(d, int) for d in x[1:]):
            return f"{node.op_type} input {x}"
    return None


def _qnn(node, dims, model):
    if node.op_type == "Resize" and (len(dims[node.input[0]]) != 4 or _attr(node, "mode", "nearest") == "cubic"
                                     or _attr(node, "coordinate_transformation_mode", "half_pixel")
                                     not in ("half_pixel", "align_corners")):
        return "Resize QNN cannot run"
    return None


def _webgpu(node, dims, model):
    if node.op_type in ("Conv", "ConvTranspose") and len(dims[node.input[1]]) > 4:
        return f"3-D {node.op_type}"
    return None


def _tensorrt(node, dims, model):
    if node.op_type == "Resize" and _attr(node, "mode") == "cubic":
        rank = len(dims[node.input[0]])
        if any(a < rank - 2 for a in _resized_axes(node, model)):
            return "cubic Resize beyond the 2 innermost axes"
    return None


def _tflite(node, dims, model):
    if node.op_type == "Resize" and len(dims[node.input[0]]) != 4:
        return "Resize not 4-D"
    if node.op_type == "ConvTranspose" and (_attr(node, "group", 1) != 1 or any(d != 1 for d in _attr(node, "dilations", []))):
        return "grouped or dilated ConvTranspose"
    return None


def _rknn(node, dims, model):
    if any(len(dims.get(t, [])) > 4 for t in list(node.input) + list(node.output) if t):
        return "a 5-D tensor"
    if node.op_type == "ConvTranspose" and any(s not in (2, 4, 8) for s in _attr(node, "strides", [1, 1])):
        return "ConvTranspose stride outside 2, 4, 8"
    return None


def _openvino(node, dims, model):
    if node.op_type == "ConvTranspose" and (_attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID")
                                            or _attr(node, "output_shape")):
        return "ConvTranspose padding OpenVINO gets wrong"
    if node.op_type == "Resize" and _attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        return "keep_aspect_ratio_policy"
    if node.op_type == "Resize" and _attr(node, "coordinate_transformation_mode") in ("half_pixel_symmetric",
                                                                                      "tf_crop_and_resize"):
        return "a coordinate mode OpenVINO refuses"
    return None


CASES = [   # (profile, net that violates it, fixed sizes, independent check)
    ("coreml", lambda: examples.build("unet3d"), None, _coreml),
    ("nnapi", lambda: examples.build("unet3d"), UNET_SIZES, _nnapi),
    ("xnnpack", lambda: examples.build("gan3d"), {"z": (1, 32, 1, 1, 1)}, _xnnpack),
    ("qnn", lambda: resize.build(["N", 2, "D", "H", "W"], scales=[1, 1, 2, 2, 2], mode="linear"), None, _qnn),
    ("webgpu", lambda: examples.build("unet3d"), None, _webgpu),
    ("tensorrt", lambda: resize.build([1, 2, 4, 6, 8], scales=[1, 1, 2, 2, 2], mode="cubic"), None, _tensorrt),
    ("tflite", lambda: convtranspose.build([5, 5], cin=4, cout=4, strides=[2, 2], group=2, dilations=[2, 2]), None,
     _tflite),
    ("tflite", lambda: resize.build([1, 2, 4, 6, 8], scales=[1, 1, 2, 2, 2], mode="linear"), None, _tflite),
    ("rknn", lambda: convtranspose.build([6, 6], strides=[3, 3], consumer="Relu"), None, _rknn),
    ("openvino", lambda: examples.build("keras_gan2d"), None, _openvino),
    ("openvino", lambda: resize.build([1, 2, 6, 8], sizes=[12, 12], axes=[2, 3], mode="linear",
                                      keep_aspect_ratio_policy="not_larger"), None, _openvino),
    ("openvino", lambda: resize.build(["N", 2, "H", "W"], scales=[1, 1, 2, 2], mode="cubic",
                                      coordinate_transformation_mode="half_pixel_symmetric"), None, _openvino),
]


def _complaints(model: onnx.ModelProto, check) -> list[str]:
    dims = _inferred(model)
    return [f"{n.name}: {why}" for n in model.graph.node for why in [check(n, dims, model)] if why]


def _profile_violations(name: str, model: onnx.ModelProto) -> list[profiles.Violation]:
    graph = graph_io.to_graph(model)
    shape_inference.annotate(graph)
    return profiles.load(name).violations(graph)


@pytest.mark.parametrize("profile, build, sizes, check", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_violating_net_converts_into_one_the_runtime_takes(profile, build, sizes, check):
    model = build()
    assert _profile_violations(profile, model), "the case does not violate the profile"
    assert _complaints(model, check), "the independent check sees nothing to fix"
    converted, report = api.convert_model(model, targets=[profile], fix_sizes=sizes)
    assert report.profile == profile and not report.remaining, [v.text() for v in report.remaining]
    assert _profile_violations(profile, converted) == []
    assert _complaints(converted, check) == []
    assert_structurally_valid(converted, model)
    assert_same_as_original(model, converted, shapes=sizes, runs=2)


def test_every_profile_names_its_sources():
    for name in profiles.names():
        p = profiles.load(name)
        assert p.source and p.read and (p.constraints or p.notes), name     # none: the notes say why
        assert all(c["source"] for c in p.constraints), name
        assert p.max_opset is None or p.max_opset_source, name
        assert not p.op_versions or p.op_versions_source, name


def test_an_op_version_the_runtime_never_registered_is_listed_with_its_source():
    """onnx2torch keys converters by (op, version): the dynamo export's opset-18 Resize has none there,
    the TorchScript export's opset-17 one (Resize-13) has."""
    fixtures = Path(__file__).parents[1] / "data" / "real_exports"
    dynamo, torchscript = (onnx.load(str(fixtures / f"decoder3d.{kind}.fixed.onnx")) for kind in ("dynamo", "torchscript"))
    _, report = api.convert_model(dynamo, targets=["onnx2torch"])
    resizes = [v for v in report.remaining if v.op == "Resize"]
    assert resizes and all("Resize-18 at opset 18" in v.why and "node_converters/resize.py" in v.source
                           for v in resizes)
    _, report = api.convert_model(torchscript, targets=["onnx2torch"])
    assert not report.remaining


def test_a_net_a_profile_cannot_take_is_listed_not_refused():
    """rknn has no 5-D tensors: a 3-D UNet is 5-D throughout, so nothing can reach it; convert says so."""
    _, report = api.convert_model(examples.build("unet3d"), targets=["rknn"], fix_sizes=UNET_SIZES)
    assert report.remaining and all("rank" in v.why or "3-D" in v.why for v in report.remaining)


def test_a_users_profile_file(tmp_path):
    path = tmp_path / "mynpu.toml"
    path.write_text('name = "mynpu"\ntitle = "an NPU"\nread = "today"\nsource = "its manual"\n'
                    '[[constraint]]\nop = "ConvTranspose"\nstride_values = [2]\nsource = "manual p. 3"\n')
    model = convtranspose.build([6, 6], strides=[3, 3], consumer="Relu")
    converted, report = api.convert_model(model, targets=[str(path)])
    assert report.profile == "mynpu" and not report.remaining
    assert not [n for n in converted.graph.node if n.op_type == "ConvTranspose"]
    kept, _ = api.convert_model(convtranspose.build([6, 6], strides=[2, 2]), targets=[str(path)])
    assert [n.op_type for n in kept.graph.node].count("ConvTranspose") == 1      # allowed: left alone


@pytest.mark.parametrize("text, message", [
    ("name = ", "not a valid profile"),
    ('[[constraint]]\nop = "Conv"\nsource = "x"\nwhatever = 1\n', "unknown field 'whatever'"),
    ('[[constraint]]\nop = "Conv"\nspatial_ranks = [2]\n', r"constraint\[0\] needs source"),
    # wrongly typed values were once read some other way
    ('[convert]\nmax_rank = nan\n', r"convert.max_rank must be an integer from 1 to 16"),
    ('[convert]\nfold_shapes = "no"\n', "convert.fold_shapes must be true or false"),
    ('[ops]\nallowed = "Conv"\n', "ops.allowed must be a list"),
    ('[[constraint]]\nop = "Conv"\nsource = "x"\nmax_pad = -3\n', r"constraint\[0\].max_pad must be an integer"),
    ('[[constraint]]\nop = "Conv"\nsource = "x"\nspatial_ranks = [true]\n', r"spatial_ranks\[0\] must be an integer"),
    ('[[constraint]]\nop = 7\nsource = "x"\n', r"constraint\[0\].op must be a list"),
    ('constraint = 3\n', "constraint must be a list"),
    ('notes = [1]\n', r"notes\[0\] must be a string"),
    ('[[constraint]]\nop = "Resize"\nsource = "x"\nresize_modes = { nearest = 3 }\n', "must be a table"),
    ('op_versions = { Resize = 13 }\n', r"op_versions.Resize must be a list"),
    # what the parser itself chokes on
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not a valid profile"),
    ("[convert]\nmax_rank = " + "9" * 100000 + "\n", "not a valid profile"),
])
def test_a_broken_profile_file_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BadArgument, match=message):
        profiles.load(str(path))


def test_unknown_profiles_and_two_profiles_are_bad_arguments(tmp_path):
    with pytest.raises(BadArgument, match="no runtime profile"):
        profiles.load(str(tmp_path / "missing.toml"))
    with pytest.raises(BadArgument, match="one runtime profile at a time"):
        api.convert_model(examples.build("gan3d"), targets=["coreml", "nnapi"])


# The op tables onnxruntime ships in its wheel (onnxruntime/tools/mobile_helpers), against the profiles read
# from the same tables: the allowed ops are the table's (compared without case: the CoreML table spells
# ArgMax "Argmax"), every "Only 2D" note is a rank constraint, every "must/should be constant" note a
# constant_inputs constraint. A newer onnxruntime that changes the table fails here, so the profile is re-read.
MOBILE_TABLES = {"coreml": "coreml_supported_mlprogram_ops.md", "nnapi": "nnapi_supported_ops.md"}


def mobile_table(file_name: str) -> dict[str, str]:
    rows = {}
    for line in (Path(mobile_helpers.__file__).parent / file_name).read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]         # "|ai.onnx:Conv|note|": '', op, note, ''
        if len(cells) == 4 and cells[1].startswith("ai.onnx"):
            rows[cells[1].split(":")[-1].split(".")[-1]] = cells[2]
    return rows


def constraints_for(profile, op: str) -> list[dict]:
    return [c for c in profile.constraints
            if c["op"] in ("*", op) or (isinstance(c["op"], list) and op in c["op"])]


@pytest.mark.parametrize("name", sorted(MOBILE_TABLES))
def test_mobile_profiles_agree_with_the_tables_onnxruntime_ships(name):
    profile = profiles.load(name)
    table = {op.lower(): note for op, note in mobile_table(MOBILE_TABLES[name]).items()}
    assert {op.lower() for op in profile.allowed_ops} == set(table), f"{name} differs from {MOBILE_TABLES[name]}"
    for op in sorted(profile.allowed_ops):
        note, rules = table.get(op.lower(), ""), constraints_for(profile, op)
        if "Only 2D" in note or "Only 1D/2D" in note:
            ranks = [r for c in rules for r in (c.get("spatial_ranks") or c.get("input_ranks") or [])]
            assert ranks and max(ranks) <= (4 if op == "Resize" else 2), f"{name}: {op}: {note}"
        if ("Weight" in note or "Bias" in note or "Input B" in note) and "constant" in note:
            assert any(c.get("constant_inputs") for c in rules), f"{name}: {op}: {note}"
