"""Nets as their exporters wrote them (torch.onnx TorchScript and dynamo, tf2onnx; MONAI, PyTorch, Keras),
judged against the framework itself: the sizes it accepts and the outputs it computed (stored by
models/real_exports/make.py and make_keras.py, so neither torch nor TensorFlow is needed here)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from onnxport.converter import admissible_sizes, api, graph_io, size_edits, verify as verify_mod

FIXTURES = Path(__file__).parent / "data" / "real_exports"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
FILES = [(net, kind, f) for net, info in sorted(MANIFEST.items()) for kind, f in sorted(info["files"].items())]
FIXED = [(net, kind, f) for net, kind, f in FILES if kind.endswith("fixed")]
DYNAMIC = [(net, kind, f) for net, kind, f in FILES if kind.endswith("dynamic")]
TOLERANCE = 1e-4


@lru_cache(maxsize=None)
def load(name: str) -> onnx.ModelProto:
    return onnx.load(str(FIXTURES / name))


@lru_cache(maxsize=None)
def analysed(name: str) -> tuple:
    return tuple(admissible_sizes.admissible_sizes(graph_io.to_graph(load(name))))


def references(net: str):
    stored = np.load(FIXTURES / f"{net}.npz")
    return [(stored[f"x{i}"], stored[f"y{i}"]) for i in range(len(MANIFEST[net]["references"]))]


def run(model: onnx.ModelProto, x: np.ndarray):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_close(got: np.ndarray, want: np.ndarray, where: str) -> None:
    assert got.shape == want.shape, f"{where}: shape {got.shape} instead of {want.shape}"
    bound = TOLERANCE + TOLERANCE * float(np.max(np.abs(want)))
    assert float(np.max(np.abs(got - want))) <= bound, where


@pytest.mark.parametrize("net, kind, name", FILES, ids=[f for _, _, f in FILES])
def test_sizes_are_the_sizes_the_framework_accepts(net, kind, name):
    info = MANIFEST[net]
    checked = 0
    for a in analysed(name):
        accepted = info["accepted"].get(str(a.axis))
        if accepted is None:
            assert a.role == "channels", a.text()
            continue
        assert a.role == "spatial" and a.runs is not None, a.text()
        assert [n for n in range(1, info["probe_up_to"] + 1) if n in a.runs] == accepted, a.text()
        checked += 1
    assert checked == len(info["accepted"])


@pytest.mark.parametrize("net, kind, name", DYNAMIC, ids=[f for _, _, f in DYNAMIC])
def test_the_dynamic_export_runs_inside_the_set_and_fails_just_outside(net, kind, name):
    exported = MANIFEST[net]["exported"]
    model = load(name)
    for a in analysed(name):
        if a.role != "spatial" or a.runs.finite:
            continue
        inside = a.runs.smallest(2, 4)
        outside = [n for n in range(inside[0] - 1, inside[-1] + 2) if n not in a.runs and n > 0][:2]
        for n in inside + outside:
            shape = list(exported)
            shape[a.axis] = n
            try:
                run(model, np.zeros(shape, np.float32))
                ran = True
            except Exception:  # noqa: BLE001 - refusing is the expected answer outside the set
                ran = False
            assert ran == (n in a.runs), (a.axis, n, a.text())
    for x, y in references(net):
        assert_close(run(model, x), y, f"{name} at {x.shape}")


@pytest.mark.parametrize("net, kind, name", FIXED, ids=[f for _, _, f in FIXED])
def test_strip_sizes_of_the_fixed_export_matches_the_framework_at_every_size_and_batch(net, kind, name):
    freed, report = size_edits.strip(load(name))
    assert 0 in report.freed["x"]
    kept = report.kept.get("x", {})
    for x, y in references(net):
        if all(x.shape[axis] == MANIFEST[net]["exported"][axis] for axis in kept):
            assert_close(run(freed, x), y, f"{name} freed, at {x.shape}")
    result = verify_mod.verify(load(name), freed, provider="cpu")
    assert result.ok, result.summary()
    assert any("batch 2 against two batch-1 runs" in r.why for r in result.runs)


def test_a_vit_frees_the_batch_and_names_what_pins_each_spatial_axis():
    name = "monai_unetr.torchscript.fixed.onnx"
    _, report = size_edits.strip(load(name))
    assert report.freed == {"x": {0: "N"}}
    assert set(report.kept["x"]) == {2, 3, 4}
    assert "32 only (Add '/vit/patch_embedding/Add' meets a fixed length 8)" in report.kept["x"][2]
    with pytest.raises(Exception, match="cannot free x axis 2: .*patch_embedding/Add"):
        size_edits.strip(load(name), axes=[0, 2, 3, 4])


@pytest.mark.parametrize("net, kind, name", FILES, ids=[f for _, _, f in FILES])
def test_convert_and_verify_stay_exact(net, kind, name):
    model = load(name)
    converted, report = api.convert_model(model)
    assert not report.remaining
    result = verify_mod.verify(model, converted, provider="cpu", runs=2)
    assert result.ok, result.summary()
