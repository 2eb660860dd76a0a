"""The zoo: nets as their exporters wrote them (torch.onnx TorchScript and dynamo, tf2onnx; MONAI's 3-D
networks, PyTorch and Keras nets), judged against onnxruntime and the framework itself: the sizes a graph
runs at, the output shapes and values the framework computed (stored by models/real_exports/make*.py,
so neither torch nor TensorFlow is needed here)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from onnxport.converter import api, profiles, size_edits
from onnxport.converter.verification import verify as verify_mod
from onnxport.errors import OnnxportError, TargetNotReached
from tests.zoo import (DYNAMIC, FILES, FIXED, MANIFEST, PRIMARY, assert_close, framework_shape, ids, load, references,
                       run, session, shapes_at)

UP_TO = 48          # every length 1..48 of every spatial axis is judged
CHECK_UP_TO = 24    # what `sizes` itself runs: 25..48 judge the analysis's own claims beyond its runs


def _shape_text(shapes: dict, order: list[str]) -> str:
    return ";".join("x".join(map(str, shapes[o])) for o in order)


@pytest.mark.parametrize("net, kind, name", FILES, ids=ids(FILES))
def test_sizes_claims_a_size_only_where_it_runs_with_the_predicted_shapes(net, kind, name):
    """What `sizes` admits runs on onnxruntime with the output shapes it predicts (and the framework's,
    where the framework runs there); what it rejects (up to where it claims anything) fails or mis-shapes.
    A fixed-size export is judged through the model strip-sizes makes of it (Resize sizes as the graph has
    them, as the analysis reads them); an axis strip-sizes keeps fixed may claim its exported size only."""
    model = load(name)
    rows = [a for a in api.admissible_sizes(model, check_up_to=CHECK_UP_TO) if a.input == "x" and a.role == "spatial"]
    freed_axes = None
    if rows and any(d.HasField("dim_value") for d in model.graph.input[0].type.tensor_type.shape.dim[2:]):
        try:
            model, report = size_edits.strip(model, sizes_to_scales=False)
            freed_axes = set(report.freed.get("x", {}))
        except OnnxportError:
            model, freed_axes = load(name), set()          # nothing freed: the exported sizes alone
    s = session(model)
    outputs = [o.name for o in s.get_outputs()]
    exported = MANIFEST[net]["exported"]
    assert rows or len(exported) < 3, "no spatial axis analysed"
    for a in rows:
        if freed_axes is not None and a.axis not in freed_axes:
            assert [n for n in range(1, UP_TO + 1) if n in a.runs] in ([], [exported[a.axis]]), a.text()
            continue
        held = a.check.reference if a.check is not None else a.reference
        base_text = shapes_at(s, held["x"])
        assert base_text is not None, f"axis {a.axis}: the reference sizes {held} do not run"
        base = {o: [int(d) for d in t.split("x")] if t else [] for o, t in zip(outputs, base_text.split(";"))}
        framework_frame = list(held["x"][1:]) == list(exported[1:]) and held["x"][0] == exported[0]
        claims_up_to = a.check.up_to if a.bounded else UP_TO
        for n in range(1, UP_TO + 1):
            shape = list(held["x"])
            shape[a.axis] = n
            got = shapes_at(s, shape)
            framework = framework_shape(net, a.axis, n) if framework_frame else None
            where = f"axis {a.axis} at {n}: {a.text()}"
            if n in a.runs:
                assert got is not None, f"over-claim, onnxruntime refuses it; {where}"
                predicted = a.output_shapes(n, base) if held == a.reference and a.complete and not a.bounded else None
                if predicted is not None:
                    assert _shape_text({**base, **predicted}, outputs) == got, f"output shapes {got}; {where}"
                assert framework is None or framework == got, f"the framework gives {framework}, not {got}; {where}"
            elif n <= claims_up_to:
                assert got is None or (framework is not None and framework != got), \
                    f"under-claim: onnxruntime runs it ({got}); {where}"


def runnable_references(net: str, name: str):
    """The references at which the export itself runs (a dynamic export can bake sizes the trace saw:
    SwinUNETR's window masks); the exported size always runs."""
    s = session(load(name))
    found = []
    for i, (feeds, want) in enumerate(references(net)):
        try:
            run(s, feeds)
        except Exception:  # noqa: BLE001 - the export itself refuses this size
            assert i > 0, f"{name} does not run at its exported size"
            continue
        found.append((feeds, want))
    return found


@pytest.mark.parametrize("net, kind, name", DYNAMIC, ids=ids(DYNAMIC))
def test_the_dynamic_export_computes_what_the_framework_did(net, kind, name):
    s = session(load(name))
    for feeds, want in runnable_references(net, name):
        for k, (got, expected) in enumerate(zip(run(s, feeds), want)):
            assert_close(got, expected, f"{name} output {k} at {feeds['x'].shape}")


@pytest.mark.parametrize("net, kind, name", FIXED, ids=ids(FIXED))
def test_strip_sizes_of_the_fixed_export_matches_the_framework_at_every_size_and_batch(net, kind, name, tmp_path):
    """strip-sizes frees what it can prove (its verification: batch 2 against two batch-1 runs, the next
    sizes with the predicted shapes) and keeps the rest fixed, naming why; the freed model computes what
    the framework did at every reference size it admits."""
    report = api.strip_sizes(load(name), tmp_path / "freed.onnx")
    kept = report.kept.get("x", {})
    assert set(report.freed.get("x", {})) | set(kept) >= {0}, report.text()
    assert all(why for why in kept.values()), report.text()
    assert report.verification.ok, report.verification.summary()
    if 0 in report.freed.get("x", {}):
        assert any("batch 2 against two batch-1 runs" in r.why for r in report.verification.runs) or \
            report.verification.notes, report.verification.summary()
    s = session(onnx.load(str(tmp_path / "freed.onnx")))
    for feeds, want in references(net):
        if all(feeds["x"].shape[axis] == MANIFEST[net]["exported"][axis] for axis in kept):
            for k, (got, expected) in enumerate(zip(run(s, feeds), want)):
                assert_close(got, expected, f"{name} freed, output {k} at {feeds['x'].shape}")


def test_a_vit_frees_the_batch_and_names_what_pins_each_spatial_axis():
    name = "monai_unetr.torchscript.fixed.onnx"
    _, report = size_edits.strip(load(name))
    assert report.freed == {"x": {0: "N"}}
    assert set(report.kept["x"]) == {2, 3, 4}
    assert "32 only (Add '/vit/patch_embedding/Add' meets a fixed length 8)" in report.kept["x"][2]
    with pytest.raises(Exception, match="cannot free x axis 2: .*patch_embedding/Add"):
        size_edits.strip(load(name), axes=[0, 2, 3, 4])


@pytest.mark.parametrize("net, kind, name", FILES, ids=ids(FILES))
def test_convert_verifies_and_computes_what_the_framework_did(net, kind, name):
    model = load(name)
    converted, report = api.convert_model(model)
    assert not report.remaining
    result = verify_mod.verify(model, converted, provider="cpu", runs=2)
    assert result.ok, result.summary()
    s = session(converted)
    fixed = MANIFEST[net]["exported"]
    for feeds, want in runnable_references(net, name):
        if kind.endswith("fixed") and list(feeds["x"].shape) != fixed:
            continue
        for k, (got, expected) in enumerate(zip(run(s, feeds), want)):
            assert_close(got, expected, f"{name} converted, output {k} at {feeds['x'].shape}")


def test_verification_of_a_latent_starts_small():
    """A generator's z (1x64x1x1x1 exported, free sizes) is verified at small z, not at 8x9x10."""
    name = "dcgan3d_generator.torchscript.dynamic.onnx"
    model = load(name)
    result = verify_mod.verify(model, model, provider="cpu", runs=2)
    assert result.ok
    assert all(np.prod(r.shapes["x"][2:]) <= 27 for r in result.runs), result.summary()


LOWER_ALL = ["no-conv3d", "no-pool3d", "no-convtranspose", "no-resize5d"]


def converted_or_refused(model, targets, out, verify: bool):
    """(report, None) when convert wrote `out`, (None, the one-line refusal) when it refused."""
    try:
        return api.convert(model, out, api.ConvertOptions(targets=targets), verify=verify,
                           verify_options=api.VerifyOptions(runs=1, provider="cpu"), force=True), None
    except (OnnxportError, TargetNotReached) as e:
        return None, str(e)


def assert_a_refusal_names_nodes_why_and_fix(text: str, model) -> None:
    assert "\n" not in text and "Traceback" not in text, text
    if text.startswith(tuple("123456789")):                    # nodes still violate: each kind named, with why
        assert " node(s) still violate the target: " in text and "'" in text and ": " in text, text
        free = any(not d.HasField("dim_value") for vi in model.graph.input for d in vi.type.tensor_type.shape.dim)
        if "graph input" in text:
            assert free and "--fix-sizes " in text, text
        assert text.endswith("--allow-partial writes it anyway)"), text


@pytest.mark.parametrize("net, kind, name", PRIMARY, ids=ids(PRIMARY))
def test_lowering_every_3d_op_converts_exactly_or_refuses_in_one_line(net, kind, name, tmp_path):
    model = load(name)
    report, refusal = converted_or_refused(model, LOWER_ALL, tmp_path / "low.onnx", verify=True)
    if refusal is not None:
        assert_a_refusal_names_nodes_why_and_fix(refusal, model)
        return
    assert report.verification.ok, report.verification.summary()
    lowered = onnx.load(str(tmp_path / "low.onnx"))
    assert not any(n.op_type == "ConvTranspose" for n in lowered.graph.node)


@pytest.mark.parametrize("net, kind, name", PRIMARY, ids=ids(PRIMARY))
def test_every_runtime_profile_converts_or_refuses_naming_each_node_why_and_the_fix(net, kind, name, tmp_path):
    """The profiles' conversions here are not verified (benchmarks/zoo.py verifies every one, docs/zoo.md;
    the lowerings they use are verified above and per pass): they must not crash, and a refusal is one
    line that names what remains, why, and the flag that fixes it."""
    model = load(name)
    for profile in profiles.names():
        _, refusal = converted_or_refused(model, [profile], tmp_path / f"{profile}.onnx", verify=False)
        if refusal is not None:
            assert_a_refusal_names_nodes_why_and_fix(refusal, model)
