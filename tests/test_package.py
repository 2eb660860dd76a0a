"""The package as users get it: a wheel that installs only `onnxport`, used from a project of their own that
has its own models/, cli.py and converter/ (most PyTorch projects have a models/), through the API, the
console script and the pytest plugin."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow          # builds the wheel and installs it

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed (without dependencies: they are in this venv) into a
    folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(work.glob("onnxport-*.whl"))
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return wheel, site


def test_the_wheel_installs_nothing_top_level_but_onnxport(installed):
    wheel, site = installed
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == {"onnxport"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "onnxport/cli.py" in names and "onnxport/converter/runtime_profiles/coreml.toml" in names
    assert not [n for n in names if n.startswith("onnxport/tests/") or n.startswith("onnxport/benchmarks/")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "onnxport = onnxport.__main__:entry" in text and "onnxport = onnxport.testing" in text


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's project whose own names collide with onnxport's subpackages."""
    for package in ("models", "converter"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("raise ImportError('the project\\'s own package')\n")
    (tmp_path / "cli.py").write_text("raise SystemExit('the project\\'s own cli.py')\n")
    return tmp_path


def run_in(project: Path, site: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *argv], cwd=project, capture_output=True, text=True, env=env, timeout=600)


def test_the_api_and_the_console_script_work_from_a_project_with_its_own_models(installed, project):
    _, site = installed
    done = run_in(project, site, "-c", textwrap.dedent("""
        from pathlib import Path
        import onnxport
        report = onnxport.convert("example:gan3d", Path("gan3d_port.onnx"))
        assert report.ok and Path("gan3d_port.onnx").exists(), report.summary()
        result = onnxport.verify(Path("gan3d_port.onnx"), "example:gan3d")
        assert result.ok and result.to_dict()["schema"] >= 2
        import onnx
        assert onnxport.verify(onnx.load("gan3d_port.onnx"), "example:gan3d").ok     # a ModelProto too
        print(onnxport.__file__)
    """))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(site))
    cli = run_in(project, site, "-m", "onnxport.cli", "sizes", "example:ddae")
    assert cli.returncode == 0 and "61 + 16n" in cli.stdout, cli.stderr


def test_the_pytest_plugin_in_a_throwaway_project(installed, project):
    _, site = installed
    (project / "test_port.py").write_text(textwrap.dedent('''
        import numpy as np
        import onnx
        import pytest
        from onnx import numpy_helper
        from onnxport.testing import assert_equivalent


        def test_a_port_matches_its_original(onnxport_port):
            port = onnxport_port("example:unet3d")
            assert port.report.ok
            assert_equivalent("example:unet3d", port.path)


        def test_a_wrong_port_fails_with_a_readable_message(onnxport_port, tmp_path):
            port = onnxport_port("example:unet3d")
            model = onnx.load(str(port.path))
            weight = next(i for i in model.graph.initializer if len(i.dims) == 5)
            weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) + np.float32(1e-2), weight.name))
            onnx.save(model, str(tmp_path / "wrong.onnx"))
            with pytest.raises(AssertionError) as failure:
                assert_equivalent("example:unet3d", tmp_path / "wrong.onnx")
            message = str(failure.value)
            assert "output 'head_1'" in message and "max|a-b|" in message and "> bound" in message
            assert "at index" in message and "the models differ at X=" in message
            print(message)
    '''))
    done = run_in(project, site, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_port.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


@pytest.fixture
def second_checkout(tmp_path) -> Path:
    """A copy of this checkout's code (not its fixtures) whose passes/_driver.py raises at import, while
    the venv's onnxport stays this checkout."""
    clone = tmp_path / "clone"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if name.startswith("tests/data/") or not (ROOT / name).is_file():
            continue
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_bytes((ROOT / name).read_bytes())
    driver = clone / "passes" / "_driver.py"
    driver.write_text(driver.read_text() + '\nraise RuntimeError("the second checkout\'s own driver")\n')
    return clone


def test_python_cli_py_runs_the_checkout_it_sits_in(second_checkout):
    done = subprocess.run([sys.executable, str(second_checkout / "cli.py"), "passes"], capture_output=True,
                          text=True, cwd=second_checkout.parent)
    assert done.returncode != 0 and "the second checkout's own driver" in done.stderr, done.stderr[-500:]


def test_a_test_session_in_another_checkout_stops_at_once_naming_both(second_checkout):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_layering.py"],
                          capture_output=True, text=True, cwd=second_checkout, timeout=120)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "not this checkout" in said and str(ROOT) in said and str(second_checkout) in said, said[-800:]


def test_the_options_take_keywords_only():
    """ConvertOptions and VerifyOptions are built by name: nine positional settings broke silently when one
    was added."""
    import pytest
    from onnxport import ConvertOptions, VerifyOptions
    for options in (ConvertOptions, VerifyOptions):
        with pytest.raises(TypeError, match="positional"):
            options(["no-convtranspose"])
    assert ConvertOptions(targets=["coreml"], timing=False).targets == ["coreml"]
