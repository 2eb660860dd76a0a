"""A model past protobuf's 2 GB limit: converted, verified and saved with external data beside the
output, the input's files untouched; and what conversion keeps in memory (no weight it does not rewrite)."""
import hashlib
import os
import shutil

import onnx
import pytest

from onnxport import cli
from onnxport.converter import api, pipeline
from onnxport.converter.files import model_io
from onnxport.models import large_unet3d

pytestmark = pytest.mark.slow          # writes and converts a model over 2 GB

OVER_2GB = dict(blocks=(1, 1, 1, 38), widths=(4, 8, 8, 512))      # 38 blocks of 512-channel k3 Convs: 2.15 GB


def _digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(64 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.mark.skipif(shutil.disk_usage("/tmp").free < 8 * 2**30, reason="needs 8 GiB of free disk for two 2 GB models")
def test_a_model_over_2gb_converts_verifies_and_keeps_its_data_beside_the_output(tmp_path, capsys):
    src_dir, out_dir = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    src = large_unet3d.write(src_dir, **OVER_2GB)
    data = src_dir / (src.name + ".data")
    assert data.stat().st_size > 2**31
    before = {p.name: (p.stat().st_size, _digest(p)) for p in src_dir.iterdir()}

    out = out_dir / "port.onnx"
    code = cli.main(["convert", str(src), "-o", str(out), "--shape", "X=1x1x8x8x8", "--runs", "1"])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert "verify: equivalent" in stdout
    assert sorted(os.listdir(out_dir)) == ["port.onnx", "port.onnx.data"]
    assert (out_dir / "port.onnx.data").stat().st_size > 2**31
    assert {p.name: (p.stat().st_size, _digest(p)) for p in src_dir.iterdir()} == before

    converted = model_io.load(str(out))
    assert converted.folder == out_dir.resolve()
    assert not [n for n in converted.model.graph.node if n.op_type == "ConvTranspose"]
    result = api.verify(str(src), str(out), api.VerifyOptions(shapes={"X": (1, 1, 8, 8, 8)}, runs=1))
    assert result.ok, result.summary()


def test_conversion_reads_only_the_weights_it_rewrites(tmp_path):
    src = large_unet3d.write(tmp_path, blocks=(2, 2, 2, 2), widths=(8, 16, 16, 32))
    loaded = model_io.load(str(src))
    converted, report = api.convert_model(loaded.model, folder=loaded.folder)
    kept = model_io.external_tensors(converted)
    rewritten = {n for p in report.passes if p.name not in pipeline.EXPLICIT_FORM for n in p.rewritten}
    assert rewritten == {"up1_1_node"}                                   # the explicit form edits attributes only
    assert len(kept) >= len(model_io.external_tensors(loaded.model)) - 2      # all but the ConvTranspose's W and b
    assert model_io.in_memory_bytes(converted) < 64 * 2**10


def test_a_model_with_external_data_keeps_it_even_when_every_weight_was_rewritten(tmp_path, capsys):
    src = large_unet3d.write(tmp_path, blocks=(1, 1, 1, 1), widths=(4, 8, 8, 16))
    out = tmp_path / "port.onnx"
    code = cli.main(["convert", str(src), "-o", str(out), "--target", "webgpu", "--shape", "X=1x1x8x8x8"])
    assert code == 0, capsys.readouterr().out
    ported = model_io.load(str(out))
    assert ported.uses_external_data and (tmp_path / "port.onnx.data").is_file()
    assert not [n for n in ported.model.graph.node if n.op_type in ("Conv", "ConvTranspose")
                and len(next(i for i in ported.model.graph.initializer if i.name == n.input[1]).dims) == 5]
