"""Real runtimes (OpenVINO, OpenCV DNN, tract, MNN, onnx2torch) through their adapters, each in a worker process.

A runtime not installed skips its tests with the extra to install; CI installs all but onnx2torch (the
README's test command installs `.[test,runtimes]`; torch is too large for it). The matrix cells here are ones measured to agree
(benchmarks/runtime_matrix.py has the whole matrix): the converted form for a runtime's profile must run
there and agree with the original on onnxruntime; a runtime that refuses says why in one line.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

from onnxport import cli
from onnxport.converter import api, runtimes
from onnxport.errors import BadArgument
from onnxport.converter.runtime_matrix import cell, form_of
from onnxport.models import examples
from tests.cli.test_cli import assert_one_line_error, run

FIXTURES = Path(__file__).parents[1] / "data" / "real_exports"


# Runtimes the README's test command (onnxport[runtimes]) does not install, and why.
NOT_IN_CI = {"onnx2torch": "torch from PyPI brings GBs of CUDA libraries"}


def requires(name: str):
    """Skipped where the runtime is not there, with converter.runtimes' own line on how to get it."""
    try:
        runtimes.info(name)
        missing = ""
    except BadArgument as e:
        missing = str(e) + (f" (not in onnxport[runtimes]: {NOT_IN_CI[name]})" if name in NOT_IN_CI else "")
    return pytest.mark.skipif(bool(missing), reason=missing)


def installed(name: str):
    return pytest.param(name, marks=requires(name), id=name)


ALL = [installed(n) for n in runtimes.RUNTIMES]


def fixture(name: str) -> onnx.ModelProto:
    return onnx.load(str(FIXTURES / f"{name}.onnx"))


# (model, runtime): the converted form for the runtime's profile agrees there; the original does not run or
# does not agree (what onnxport is for).
REPAIRED = [
    ("example:keras_gan2d", "openvino"),                      # 2-D ConvTranspose SAME_UPPER: wrong sizes
    ("example:keras_gan2d", "opencv"),
    ("decoder3d.torchscript.fixed", "opencv"),                # 5-D Resize refused
    ("decoder3d.torchscript.fixed", "mnn"),                   # 5-D Resize returns nothing
    ("monai_attentionunet.torchscript.fixed", "opencv"),      # 3-D ConvTranspose refused, Conv3D + Add asserts
    ("monai_attentionunet.torchscript.fixed", "mnn"),         # 3-D ConvTranspose with bias: wrong values
    ("keras_unet3d.tf2onnx.fixed", "mnn"),                    # implicit pool pads: MNN's converter crashes
    ("example:keras_gan2d", "onnx2torch"),                    # ConvTranspose SAME_UPPER "is not implemented"
    ("depth_into_batch.dynamo.fixed", "onnx2torch"),          # Reshape allowzero=1 "is not implemented"
]


def load(name: str) -> onnx.ModelProto:
    return examples.build(name.removeprefix("example:")) if name.startswith("example:") else fixture(name)


@pytest.mark.parametrize("name, runtime", [pytest.param(m, r, marks=requires(r), id=f"{m}-{r}") for m, r in REPAIRED])
def test_the_profile_form_runs_and_agrees_where_the_original_does_not(name, runtime):
    model = load(name)
    original = cell(name, model, "original", runtime)
    assert original.verdict in ("refused", "differs"), original
    converted = cell(name, model, "profile", runtime)
    assert converted.verdict == "agrees", converted


@pytest.mark.parametrize("runtime", ALL)
def test_every_runtime_runs_a_converted_unet_and_agrees_at_several_sizes(runtime):
    """example:unet3d has symbolic sizes: static runtimes get them fixed, as `form_of` does for users."""
    model = examples.build("unet3d")
    converted, why = form_of(model, "profile", runtime)
    assert converted is not None, why
    result = api.verify_models(model, converted, api.VerifyOptions(runs=2, provider="cpu", runtime=runtime))
    assert result.ok, result.summary()
    assert runtimes.RUNTIMES[runtime].title.split()[0].lower() in result.provider.lower()


@pytest.mark.parametrize("runtime", [r for r in ALL if r.values[0] in ("openvino", "tract", "mnn", "opencv")])
def test_a_worker_past_its_memory_bound_is_stopped_and_says_so(runtime, tmp_path, capsys):
    """The second model allocates 2.8 GiB from a constant (MNN went past 7 GB, OpenVINO and tract 3 GB under
    --max-memory 64M): the parent reads the worker's resident memory and stops it at its bound."""
    from tests.converter.test_verify import constant_allocation
    onnx.save(constant_allocation(1000), str(tmp_path / "small.onnx"))
    onnx.save(constant_allocation(750_000_000), str(tmp_path / "heavy.onnx"))
    code, out, err = run(capsys, "verify", tmp_path / "small.onnx", tmp_path / "heavy.onnx", "--runtime", runtime,
                         "--max-memory", "64M")
    assert code == 1 and out.count("\n") == 1 and "Traceback" not in out + err, out + err
    assert "MiB it may (twice --max-memory 64 MiB of activations" in out and "give more with --max-memory" in out


@pytest.mark.parametrize("runtime", [installed("opencv")])
def test_a_runtime_that_refuses_says_why_in_one_result_line(runtime, capsys):
    decoder = FIXTURES / "decoder3d.torchscript.fixed.onnx"
    code, out, err = run(capsys, "verify", decoder, decoder, "--runtime", runtime)
    assert code == 1 and out.count("\n") == 1 and "fails to run" in out and "Resize" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("runtime", [installed("openvino")])
def test_convert_verify_on_a_runtime_reports_both_verifications(runtime, tmp_path, capsys):
    out, report = tmp_path / "gan.onnx", tmp_path / "report.json"
    code, stdout, _ = run(capsys, "convert", "example:keras_gan2d", "-o", out, "--verify-on", runtime,
                          "--json", report)
    assert code == 0, stdout
    data = json.loads(report.read_text())
    assert data["verification"]["ok"] and data["runtime_verification"]["ok"]
    assert "OpenVINO" in data["runtime_verification"]["provider"]
    assert "verify on the runtime: equivalent" in stdout


def one_convtranspose3d() -> onnx.ModelProto:
    from onnxport.models import convtranspose
    return convtranspose.build([4, 4, 4], 8, 8, [2, 2, 2], strides=[2, 2, 2], consumer="Relu")


@pytest.mark.parametrize("runtime", [installed("mnn")])
def test_auto_times_every_form_inside_the_runtime_the_profile_is_for(runtime, monkeypatch):
    """--target mnn --strategy auto: each allowed form loads in MNN's worker and is timed there (its runs,
    not the pipe), and the choice says so."""
    from onnxport.converter import auto_strategy
    from onnxport.converter.runtimes.session import RuntimeSession
    monkeypatch.setattr(auto_strategy, "TIMING_BUDGET_S", 0.1)
    timed = []
    real = RuntimeSession.timer
    monkeypatch.setattr(RuntimeSession, "timer", lambda self, feeds: timed.append(self.info.name) or real(self, feeds))
    _, report = api.convert_model(one_convtranspose3d(), targets=[runtime], strategy="auto")
    [choice] = report.choices
    assert timed == [runtime] * 3 and set(choice.timings_ms) == set(auto_strategy.PREFERENCE) and not choice.refused
    assert f"on {runtimes.info(runtime).title}" in choice.reason and not report.remaining


@pytest.mark.parametrize("runtime", [installed("mnn")])
def test_an_output_computed_by_a_fused_relu_keeps_its_name_on_mnn(runtime, capsys, tmp_path):
    """The resize-conv form ends Conv -> Relu: MNN 3.6 fused the two and lost the output ('Can't find
    output'), so verification on MNN failed on a right model; the worker's copy hands outputs on through
    an Identity."""
    layer = one_convtranspose3d()
    onnx.save(layer, str(tmp_path / "layer.onnx"))
    onnx.save(api.convert_model(layer, strategy="resize-conv")[0], str(tmp_path / "rc.onnx"))
    code, out, err = run(capsys, "verify", tmp_path / "layer.onnx", tmp_path / "rc.onnx", "--runtime", runtime)
    assert code == 0 and "equivalent" in out, out + err


@pytest.mark.parametrize("runtime", [installed("tract")])
def test_auto_times_on_the_runtime_convert_verifies_on(runtime, tmp_path):
    """convert --verify-on RUNTIME --strategy auto: the forms are timed where the result is checked."""
    onnx.save(one_convtranspose3d(), str(tmp_path / "layer.onnx"))
    report = api.convert(tmp_path / "layer.onnx", tmp_path / "out.onnx", api.ConvertOptions(strategy="auto"),
                         verify_on=runtime)
    assert f"on {runtimes.info(runtime).title}" in report.choices[0].reason and report.runtime_verification.ok


def test_auto_says_where_it_timed_when_the_profiles_runtime_is_not_installed(monkeypatch):
    """--target mnn without MNN here: timed on onnxruntime, and the reason says why not on MNN."""
    from onnxport.converter import auto_strategy, conversion
    monkeypatch.setattr(auto_strategy, "TIMING_BUDGET_S", 0.1)

    def not_installed(name):
        raise BadArgument(f"--runtime {name}: not installed (pip install 'onnxport[{name}]')")
    monkeypatch.setattr(conversion.runtimes, "info", not_installed)
    _, report = api.convert_model(one_convtranspose3d(), targets=["mnn"], strategy="auto", provider="cpu")
    reason = report.choices[0].reason
    assert "on CPUExecutionProvider" in reason and "not on mnn: --runtime mnn: not installed" in reason


def test_auto_choices_are_cached_per_site():
    """A choice timed on onnxruntime is never reused for a runtime (nor one runtime's for another)."""
    from onnxport.converter import auto_strategy, choice_cache
    one = one_convtranspose3d()
    keys = {choice_cache.key(one, ["subpixel"], site.cache_name())
            for site in (auto_strategy.Site("cpu"), auto_strategy.Site(runtime="openvino"),
                         auto_strategy.Site(runtime="tract"))}
    assert len(keys) == 3


def matrix_models() -> dict:
    """Every bundled example and the fixed exports of the runtime matrix's nets (RUNTIME_MATRIX_NETS: the
    zoo's other nets on real runtimes are issue 22's; benchmarks/runtime_matrix.py runs them all)."""
    found = {f"example:{n}": n for n in sorted(examples.EXAMPLES)}
    found.update({p.name.removesuffix(".onnx"): p.name.removesuffix(".onnx")
                  for p in sorted(FIXTURES.glob("*.fixed.onnx")) if p.name.split(".")[0] in RUNTIME_MATRIX_NETS})
    return found


RUNTIME_MATRIX_NETS = {"decoder3d", "depth_into_batch", "keras_convt3d_same", "keras_convt3d_valid", "keras_unet3d",
                       "monai_attentionunet", "monai_dynunet", "monai_dynunet_aniso", "monai_segresnet", "monai_unet",
                       "monai_unetr"}


def judged(original, converted) -> str:
    """'' where the converted form is acceptable, else why not. It must run and agree, or be refused by the
    profile with a reason, or by the runtime as the original is (LiteRT fails to prepare TorchScript's
    exports of MONAI's critic either way); it may differ only as the original does on the same runtime
    (its own arithmetic)."""
    if converted.verdict == "agrees" or (converted.verdict == "not convertible" and converted.detail):
        return ""
    if converted.verdict == "refused" and original.verdict == "refused":
        return ""
    if converted.verdict == "differs" and original.verdict == "differs" and converted.error <= 1.1 * original.error:
        return ""
    return f"{converted.model}: {converted.verdict} ({converted.detail[:200]}); original: {original.verdict}"


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ALL)
def test_the_runtime_matrix_never_lets_a_converted_model_run_and_disagree(runtime):
    """The issue's bar: each example and fixture, converted for the runtime's profile, runs there and
    agrees, or inspect --target refuses it with the reason."""
    failures, agreed = [], 0
    for name in matrix_models():
        model = load(name)
        converted = cell(name, model, "profile", runtime)
        agreed += converted.verdict == "agrees"
        failures.append(judged(cell(name, model, "original", runtime), converted))
    assert not any(failures), "\n".join(f for f in failures if f)
    assert agreed >= len(failures) * 3 // 4                  # the matrix is mostly agreement, not refusals


def test_a_runtime_not_installed_names_its_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(BadArgument, match=r"pip install 'onnxport\[mnn\]'"):
        runtimes.info("mnn")


def test_an_unknown_runtime_is_a_one_line_error(capsys):
    code, _, err = run(capsys, "verify", "example:gan3d", "example:gan3d", "--runtime", "tensorflow")
    assert_one_line_error(code, err)


def test_the_command_line_offers_exactly_the_runtimes_the_library_has():
    assert tuple(cli.RUNTIMES) == tuple(runtimes.RUNTIMES)


@pytest.mark.parametrize("runtime", [installed("tflite")])
def test_the_tflite_profile_form_agrees_on_litert_where_the_default_form_does_not(runtime):
    """example:gan3d through onnx2tf on LiteRT: the default conversion (interleave as 5-D reshapes and
    transposes) comes back wrong (0.07), the tflite profile's form right; both layouts are handled."""
    model = examples.build("gan3d")
    default = cell("example:gan3d", model, "default", runtime)
    assert default.verdict == "differs" and default.error > 1e-2, default
    assert cell("example:gan3d", model, "profile", runtime).verdict == "agrees"


def test_a_runtime_in_its_own_environment_says_how_to_make_it(monkeypatch, capsys):
    monkeypatch.delenv("ONNXPORT_TFLITE_PYTHON", raising=False)
    with pytest.raises(BadArgument, match=r"ONNXPORT_TFLITE_PYTHON names no Python \(unset\): .*pip install onnx2tf"):
        runtimes.info("tflite")
    monkeypatch.setenv("ONNXPORT_TFLITE_PYTHON", "/nonexistent/python")
    code, _, err = run(capsys, "verify", "example:gan3d", "example:gan3d", "--runtime", "tflite")
    assert_one_line_error(code, err)
    assert "/nonexistent/python" in err


@pytest.mark.parametrize("stdin_held", [False, True], ids=["stdin-closes", "stdin-held-elsewhere"])
@pytest.mark.parametrize("runtime", [installed("tract")])
def test_a_worker_ends_with_onnxport_even_when_onnxport_is_killed(runtime, stdin_held, tmp_path):
    """kill -KILL of onnxport mid-verification: its worker removes its folder (the model copy, the feeds)
    and exits; nothing is left running or on disk. Where another process still holds the worker's stdin
    (a child that inherited it), no end-of-file comes: the parent-death signal alone must end it."""
    holder = ("import subprocess\n"
              "held = subprocess.Popen(['sleep', '60'], pass_fds=[s.process.stdin.fileno()], start_new_session=True)\n"
              "print(held.pid, flush=True)\n" if stdin_held else "")
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from onnxport.converter.runtimes.session import RuntimeSession\n"
        "from onnxport.models import examples\n"
        f"s = RuntimeSession({runtime!r}, examples.build('gan3d'))\n"
        + holder +
        "print(s.process.pid, s.folder.name, flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    holder_pid = int(parent.stdout.readline()) if stdin_held else None
    pid, folder = parent.stdout.readline().split()
    assert Path(folder).is_dir()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (Path(f"/proc/{pid}").exists() or Path(folder).exists()):
        time.sleep(0.1)
    if holder_pid is not None:                  # the test's own stand-in, not onnxport's: ended here
        os.kill(holder_pid, signal.SIGKILL)
    assert not Path(folder).exists(), "the worker's folder was left behind"
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "gone"
    assert state in ("gone", "Z"), f"worker {pid} still running ({state})"


@pytest.mark.parametrize("runtime", [installed("tract")])
def test_a_worker_run_by_hand_never_removes_the_models_folder(runtime, tmp_path):
    """worker.py run by hand on a model in the user's folder, its stdin closed at once (what it reads as
    onnxport's death): the folder and the model stay. It once removed the model's folder, whatever it was
    (/tmp included)."""
    from onnxport.converter.runtimes import worker
    onnx.save(examples.build("gan3d"), str(tmp_path / "model.onnx"))
    (tmp_path / "notes.txt").write_text("mine")
    done = subprocess.run([sys.executable, worker.__file__, runtime, str(tmp_path / "model.onnx"), "z", "voxels_1"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert "ready" in done.stdout, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "notes.txt"]
