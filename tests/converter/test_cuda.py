"""The CUDA path: provider choice and fallback, TF32 off, the CUDA-vs-CPU comparison, the activation
budget on the GPU, and benchmarks/gpu_check.sh. The tests marked `cuda` need a CUDA session that really
runs and are skipped elsewhere with the loader's own reason (no GPU has been lent to this project yet:
benchmarks/gpu_check.sh runs them the first time one is); the others run everywhere."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onnxport.converter import api
from onnxport.converter import runtime
from onnxport.converter.verification import run_plan
from onnxport.converter.verification import sessions, verify as verify_mod
from onnxport.models import examples
from tests import zoo

ROOT = Path(__file__).resolve().parents[2]
THIS_PYTHON = {**os.environ, "PYTHON": sys.executable}      # the script's --reuse-env runs in this interpreter
CUDA = "CUDAExecutionProvider"
needs_cuda = [pytest.mark.cuda, pytest.mark.skipif(runtime.cuda_problem() is not None,
                                                    reason=f"CUDA does not run here: {runtime.cuda_problem()}")]


def cuda_test(f):
    for mark in reversed(needs_cuda):
        f = mark(f)
    return f


@cuda_test
def test_auto_runs_on_cuda_where_it_loads_and_the_session_really_uses_it():
    assert sessions.providers_for("auto")[0] == (CUDA, sessions.CUDA_OPTIONS)
    session = sessions.make_session(examples.build("gan3d"), sessions.providers_for("cuda"))
    assert session.get_providers()[0] == CUDA


@cuda_test
def test_cuda_sessions_compute_in_float32_not_tf32():
    session = sessions.make_session(examples.build("gan3d"), sessions.providers_for("cuda"))
    assert session.get_provider_options()[CUDA]["use_tf32"] == "0"


@cuda_test
@pytest.mark.parametrize("name", ["gan3d", "unet3d"])
def test_a_conversion_verifies_on_cuda_at_the_cpu_tolerance(name):
    model = examples.build(name)
    converted, _ = api.convert_model(model)
    result = verify_mod.verify(model, converted, provider="cuda", runs=2)
    assert result.ok, result.summary()
    assert result.provider == CUDA


@cuda_test
@pytest.mark.parametrize("net", ["monai_unet", "dcgan3d_generator"])
def test_the_original_agrees_on_cuda_and_cpu(net):
    _, _, name = next(p for p in zoo.PRIMARY if p[0] == net)
    model = zoo.load(name)
    result = verify_mod.verify(model, model, provider="cuda", against_provider="cpu", runs=2,
                               folders=(zoo.FIXTURES, zoo.FIXTURES))
    assert result.ok, result.summary()
    assert result.provider == f"{CUDA} vs CPUExecutionProvider"


@cuda_test
def test_the_activation_budget_holds_on_the_gpu():
    """--max-memory chooses the sizes on the GPU as on the CPU: no run is planned above the budget."""
    model = examples.build("unet3d")
    budget = 8 << 20
    result = verify_mod.verify(model, model, provider="cuda", against_provider="cpu", runs=3, max_memory=budget)
    assert result.ok, result.summary()
    planned = run_plan.plan(model, model, runs=3, budget=budget)
    assert [tuple(r.shapes["X"]) for r in result.runs] == [tuple(alternatives[0].shapes["X"])
                                                           for alternatives in planned.runs]


def test_without_cuda_the_reason_is_the_loaders_and_auto_falls_back_to_cpu():
    if runtime.cuda_problem() is None:
        pytest.skip("CUDA runs here: the fallback is not taken")
    assert sessions.providers_for("auto") == ["CPUExecutionProvider"]
    result = verify_mod.verify(examples.build("gan3d"), examples.build("gan3d"), provider="auto", runs=1)
    assert result.ok and result.provider == "CPUExecutionProvider"


def test_gpu_check_dry_run_says_why_each_cuda_section_cannot_run(tmp_path):
    """The script CI runs without a GPU: every CUDA section reports "CUDA unavailable: <reason>" with the
    loader's reason, and the JSON and Markdown are written."""
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path), "--reuse-env", "--quick"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=THIS_PYTHON)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    if results["cuda"]:
        assert all(results[s]["status"].startswith("ran") for s in ("tests", "verify", "bench"))
        return
    reason = runtime.cuda_problem()
    for name in ("tests", "verify", "bench"):
        assert results[name]["status"] == f"CUDA unavailable: {reason}"
        assert f"[{name}] CUDA unavailable: {reason}" in done.stdout
    assert f"CUDA unavailable: {reason}" in (tmp_path / "gpu_check.md").read_text()


def test_gpu_check_rehearsed_on_the_cpu_takes_every_step_of_the_gpu_day(tmp_path):
    """--rehearse-on-cpu runs the verify and benchmark sections with --provider cpu: the rows, the worst
    errors and the benchmark tables come out as they will on a GPU."""
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path), "--reuse-env", "--quick",
                           "--rehearse-on-cpu"], capture_output=True, text=True, timeout=600, cwd=ROOT, env=THIS_PYTHON)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    rows = results["verify"]["rows"]
    assert [r["model"] for r in rows] == ["example:ddae", "example:gan3d", "example:keras_gan2d"]
    assert all(r["conversion"]["code"] == 0 and r["conversion"]["ok"] for r in rows)
    assert all(r["conversion"]["provider"] == "CPUExecutionProvider" for r in rows)
    assert results["bench"]["code"] == 0 and "subpixel / native" in results["bench"]["output"]
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| example:gan3d | 0, max\\|a-b\\| = " in table
    assert np.isfinite(float(rows[1]["conversion"]["worst"].split("= ")[1].split()[0]))
