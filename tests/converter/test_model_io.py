"""model_io: what a user can get wrong when loading, external data kept in its folder, atomic saves."""
import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxport.converter.files import model_io
from onnxport.errors import BadArgument, BadInput, OutputError
from onnxport.models import convtranspose


@pytest.fixture
def model():
    return convtranspose.build([3, 3, 3], cin=8, cout=8, kernel=[4, 4, 4], strides=[2, 2, 2])


def save_external(model, folder, data_name="weights.bin"):
    path = folder / "model.onnx"
    copy = onnx.ModelProto()
    copy.CopyFrom(model)    # saving with external data moves the bytes out of the proto
    onnx.save_model(copy, str(path), save_as_external_data=True, location=data_name, size_threshold=0)
    return path


def test_loads_a_model_and_an_example(tmp_path, model):
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    loaded = model_io.load(str(path))
    assert loaded.model.graph.node[0].op_type == "ConvTranspose"
    assert not loaded.uses_external_data
    assert model_io.load("example:gan3d").model.graph.name == "gan3d"


@pytest.mark.parametrize("content, message", [
    (b"this is a text file, not an ONNX model\n", "not an ONNX model"),
    (b"", "not an ONNX model"),
    (b"\x08\x07", "not an ONNX model"),
])
def test_rejects_files_that_are_not_models(tmp_path, content, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message):
        model_io.load(str(path))


def test_rejects_a_truncated_model(tmp_path, model):
    data = model.SerializeToString()
    path = tmp_path / "cut.onnx"
    for fraction in (0.5, 0.37, 0.77, 0.9):
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(BadInput):
            model_io.load(str(path))


def test_missing_file_directory_and_unknown_example(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        model_io.load(str(tmp_path / "nope.onnx"))
    with pytest.raises(BadInput, match="not a file"):
        model_io.load(str(tmp_path))
    with pytest.raises(BadArgument, match="unknown example 'nope'.*gan3d"):
        model_io.load("example:nope")


def test_rejects_a_model_that_fails_the_checker(tmp_path, model):
    model.graph.node[0].input[1] = "missing_weight"
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(BadInput, match="fails onnx.checker"):
        model_io.load(str(path))


def test_external_data_is_checked_at_load_and_read_only_when_needed(tmp_path, model):
    path = save_external(model, tmp_path)
    loaded = model_io.load(str(path))
    assert loaded.uses_external_data and loaded.data_files == [(tmp_path / "weights.bin").resolve()]
    assert loaded.folder == tmp_path.resolve()
    assert all(not t.raw_data for t in loaded.model.graph.initializer)          # still references
    whole = model_io.materialize(loaded.model, loaded.folder)
    w = numpy_helper.to_array(whole.graph.initializer[0])
    np.testing.assert_array_equal(w, numpy_helper.to_array(model.graph.initializer[0]))


def test_a_saved_copy_of_an_external_model_carries_its_own_data(tmp_path, model):
    path = save_external(model, tmp_path)
    loaded = model_io.load(str(path))
    out = tmp_path / "copy" / "copy.onnx"
    out.parent.mkdir()
    model_io.save(loaded.model, str(out), folder=loaded.folder)
    assert sorted(os.listdir(out.parent)) == ["copy.onnx", "copy.onnx.data"]
    copy = model_io.load(str(out))
    got = model_io.materialize(copy.model, copy.folder)
    for a, b in zip(got.graph.initializer, model.graph.initializer):
        np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
    big = [t for t in copy.model.graph.initializer if t.dims and np.prod(t.dims) * 4 >= 4096]
    assert all(int(dict((e.key, e.value) for e in t.external_data)["offset"]) % 4096 == 0 for t in big)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, model, location):
    folder = tmp_path / "m"
    folder.mkdir()
    path = save_external(model, folder)
    m = onnx.load(str(path), load_external_data=False)
    for init in m.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = location
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4096)
    onnx.save(m, str(path))
    with pytest.raises(BadInput, match="outside the model's folder"):
        model_io.load(str(path))


def test_missing_or_short_external_data_is_refused(tmp_path, model):
    path = save_external(model, tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8)
    with pytest.raises(BadInput, match="reads bytes"):
        model_io.load(str(path))
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(BadInput, match="missing"):
        model_io.load(str(path))


def test_save_is_atomic_and_refuses_what_it_must(tmp_path, model):
    out = tmp_path / "out.onnx"
    model_io.save(model, str(out))
    assert onnx.load(str(out)).graph.node[0].op_type == "ConvTranspose"
    assert sorted(os.listdir(tmp_path)) == ["out.onnx"]          # no temporary left behind
    before = out.read_bytes()
    with pytest.raises(OutputError, match="already exists"):
        model_io.save(model, str(out))
    assert out.read_bytes() == before
    model_io.save(model, str(out), force=True)
    with pytest.raises(OutputError, match="does not exist"):
        model_io.save(model, str(tmp_path / "no" / "out.onnx"))
    with pytest.raises(OutputError, match="would overwrite the input"):
        model_io.save(model, str(out), force=True, protected=[out])


def test_saves_external_data_beside_the_output(tmp_path, model):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    model_io.save(model, str(out_dir / "port.onnx"), external=True)
    assert sorted(os.listdir(out_dir)) == ["port.onnx", "port.onnx.data"]
    loaded = model_io.load(str(out_dir / "port.onnx"))
    assert loaded.data_files == [(out_dir / "port.onnx.data").resolve()]


def test_output_may_not_replace_the_inputs_data_file(tmp_path, model):
    path = save_external(model, tmp_path, data_name="port.onnx.data")
    loaded = model_io.load(str(path))
    with pytest.raises(OutputError, match="would overwrite"):
        model_io.save(loaded.model, str(tmp_path / "port.onnx"), force=True, protected=loaded.protected_paths(),
                      folder=loaded.folder, external=True)


def test_opset_from_the_future_is_refused(tmp_path, model):
    model.opset_import[0].version = 99
    path = tmp_path / "future.onnx"
    onnx.save(model, str(path))
    with pytest.raises(BadInput, match="opset 99 is newer"):
        model_io.load(str(path))


def test_an_input_declared_as_initializer_too_is_fine(tmp_path):
    """IR < 4 models list weights among the inputs; they load and are not treated as graph inputs."""
    w = numpy_helper.from_array(np.ones((1, 1, 2), np.float32), "W")
    g = helper.make_graph([helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[2])], "g",
                          [helper.make_tensor_value_info("X", 1, [1, 1, 3]), helper.make_tensor_value_info("W", 1, [1, 1, 2])],
                          [helper.make_tensor_value_info("Y", 1, [1, 1, 6])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 3
    path = tmp_path / "old.onnx"
    onnx.save(m, str(path))
    assert model_io.load(str(path)).model.ir_version == 3
