"""The command-line contract: exit codes, one-line errors, nothing written on failure, reports."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest

from onnxport import cli
from onnxport.models import convtranspose, examples
from tests.helpers import count_ops

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "in.onnx"
    onnx.save(convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6,
                                  output_padding=[1] * 3, batch="N"), str(path))
    return path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, expected_code=2):
    assert code == expected_code
    assert err.startswith("onnxport: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_convert_an_example_writes_a_verified_model_and_a_report(tmp_path, capsys):
    out, report = tmp_path / "gan3d_port.onnx", tmp_path / "report.json"
    code, stdout, _ = run(capsys, "convert", "example:gan3d", "-o", out, "--json", report)
    assert code == 0
    model = onnx.load(str(out))
    assert count_ops(model, "ConvTranspose", spatial_rank=3) == 0
    assert "verify: equivalent" in stdout and "CPUExecutionProvider" in stdout
    data = json.loads(report.read_text())
    assert data["passes"][0]["applied"] == 4 and data["verification"]["ok"]
    assert data["macs"]["before"] > 0 and data["nodes"]["after"] > data["nodes"]["before"]


def test_convert_keeps_ir_version_opset_and_metadata(tmp_path, capsys, model_path):
    model = onnx.load(str(model_path))
    model.ir_version = 8
    onnx.helper.set_model_props(model, {"author": "someone"})
    model.producer_name, model.doc_string = "exporter", "my net"
    onnx.save(model, str(model_path))
    out = tmp_path / "out.onnx"
    assert run(capsys, "convert", model_path, "-o", out)[0] == 0
    got = onnx.load(str(out))
    assert (got.ir_version, got.producer_name, got.doc_string) == (8, "exporter", "my net")
    props = {p.key: p.value for p in got.metadata_props}
    assert props["author"] == "someone" and "onnxport.lowered" in props       # the recipe for --fuse
    assert [(o.domain, o.version) for o in got.opset_import] == [("", 17)]


def test_the_input_is_never_modified(tmp_path, capsys, model_path):
    before = model_path.read_bytes()
    assert run(capsys, "convert", model_path, "-o", tmp_path / "out.onnx", "--target", "no-convtranspose")[0] == 0
    assert model_path.read_bytes() == before


def test_verify_exit_codes(tmp_path, capsys, model_path):
    out = tmp_path / "out.onnx"
    run(capsys, "convert", model_path, "-o", out, "--no-verify")
    report = tmp_path / "v.json"
    code, stdout, _ = run(capsys, "verify", model_path, out, "--json", report)
    assert code == 0 and "equivalent" in stdout
    assert json.loads(report.read_text())["ok"] is True
    bad = onnx.load(str(out))
    weight = next(i for i in bad.graph.initializer if "weight" in i.name)
    arr = onnx.numpy_helper.to_array(weight) + 1e-2
    weight.CopyFrom(onnx.numpy_helper.from_array(arr.astype("float32"), weight.name))
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    code, stdout, _ = run(capsys, "verify", model_path, tmp_path / "bad.onnx")
    assert code == 1 and "mismatch" in stdout


@pytest.mark.parametrize("make_input", ["missing", "text", "truncated", "checker", "directory"])
def test_bad_inputs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, model_path, make_input):
    src = tmp_path / "bad.onnx"
    if make_input == "text":
        src.write_text("this is a text file\n")
    elif make_input == "truncated":
        src.write_bytes(model_path.read_bytes()[:200])
    elif make_input == "checker":
        m = onnx.load(str(model_path))
        m.graph.node[0].input[1] = "nowhere"
        onnx.save(m, str(src))
    elif make_input == "directory":
        src = tmp_path
    out = tmp_path / "out.onnx"
    code, _, err = run(capsys, "convert", src, "-o", out)
    assert_one_line_error(code, err)
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--target", "no-such-target"], "unknown target"),
    (["--strategy", "magic"], "invalid choice: 'magic' (choose from 'subpixel', 'resize-conv', 'convtranspose2d', "
                                 "'auto', 'conv2d')"),
    (["--shape", "X=1xx2"], "expected NAME=DIMS"),
    (["--shape", "Q=1x2x3x3x3"], "not a graph input"),
    (["--provider", "tpu"], "invalid choice: 'tpu'"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, model_path, args, message):
    out = tmp_path / "out.onnx"
    code, _, err = run(capsys, "convert", model_path, "-o", out, *args)
    assert_one_line_error(code, err)
    assert message in err and not out.exists()


def test_outputs_that_must_not_be_written(tmp_path, capsys, model_path):
    code, _, err = run(capsys, "convert", model_path, "-o", tmp_path / "no" / "such" / "dir.onnx")
    assert_one_line_error(code, err)
    before = model_path.read_bytes()
    code, _, err = run(capsys, "convert", model_path, "-o", model_path, "--force")
    assert_one_line_error(code, err)
    assert model_path.read_bytes() == before
    existing = tmp_path / "exists.onnx"
    existing.write_bytes(b"sentinel")
    code, _, err = run(capsys, "convert", model_path, "-o", existing)
    assert_one_line_error(code, err)
    assert existing.read_bytes() == b"sentinel"
    assert run(capsys, "convert", model_path, "-o", existing, "--force")[0] == 0
    onnx.load(str(existing))


def test_usage_errors_are_one_line(capsys):
    assert cli.main(["convert"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("onnxport: error:")


def test_an_unreached_target_exits_1_writes_no_model_but_the_report(tmp_path, capsys):
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[8, 8, 8])
    src, out, report = tmp_path / "m.onnx", tmp_path / "out.onnx", tmp_path / "r.json"
    onnx.save(model, str(src))
    code, stdout, err = run(capsys, "convert", src, "-o", out, "--json", report)
    assert code == 1 and not out.exists()
    assert "still violate" in err and "left 'ct_1_node' in place: " in stdout
    assert json.loads(report.read_text())["remaining"][0]["node"] == "ct_1_node"
    code, _, _ = run(capsys, "convert", src, "-o", out, "--allow-partial", "--no-verify")
    assert code == 0 and out.exists()


def test_inconsistent_attributes_name_the_node(tmp_path, capsys):
    model = convtranspose.build([3, 3, 3], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[20, 6, 6])
    src = tmp_path / "m.onnx"
    onnx.save(model, str(src))
    code, _, err = run(capsys, "convert", src, "-o", tmp_path / "out.onnx")
    assert_one_line_error(code, err)
    assert "ct_1_node" in err and "unreachable" in err


def test_shapes_lists_every_node_and_the_sizes_a_convtranspose_allows(capsys):
    code, stdout, _ = run(capsys, "shapes", "example:keras_gan2d", "--shape", "z=2x32")
    assert code == 0
    assert "deconv_1_node (ConvTranspose) -> deconv_1: 2x64x32x32" in stdout
    assert "stride 2 allows 31 | 32" in stdout and "the attributes pick 32" in stdout
    code, stdout, _ = run(capsys, "shapes", "example:unet3d", "--json")
    rows = json.loads(stdout)["nodes"]
    assert code == 0 and len(rows) == len(examples.build("unet3d").graph.node)


def test_passes_lists_rewrites_targets_and_examples(capsys):
    code, stdout, _ = run(capsys, "passes")
    assert code == 0
    for word in ("convtranspose-to-subpixel", "no-convtranspose3d", "gan3d", "unet3d", "keras_gan2d"):
        assert word in stdout


def test_console_script_and_python_cli_py(tmp_path):
    script = shutil.which("onnxport", path=os.path.dirname(sys.executable))
    commands = [[sys.executable, os.path.join(ROOT, "cli.py")]] + ([[script]] if script else [])
    for i, command in enumerate(commands):
        out = tmp_path / f"k{i}.onnx"
        done = subprocess.run(command + ["convert", "example:keras_gan2d", "-o", str(out), "--target", "no-convtranspose"],
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert count_ops(onnx.load(str(out)), "ConvTranspose") == 0


@pytest.mark.parametrize("strategy", ["resize-conv", "convtranspose2d", "conv2d"])
def test_strategies_from_the_command_line(tmp_path, capsys, model_path, strategy):
    out, report = tmp_path / "out.onnx", tmp_path / "report.json"
    code, stdout, _ = run(capsys, "convert", model_path, "-o", out, "--strategy", strategy, "--max-rank", "5",
                          "--json", report)
    assert code == 0 and "verify: equivalent" in stdout
    assert count_ops(onnx.load(str(out)), "ConvTranspose", spatial_rank=3) == 0
    # conv2d, the earlier name, is still taken; the report names the strategy by its name now
    assert json.loads(report.read_text())["strategy"] == ("convtranspose2d" if strategy == "conv2d" else strategy)


def test_convert_then_fuse_gives_the_model_back(tmp_path, capsys, model_path):
    low, back = tmp_path / "low.onnx", tmp_path / "back.onnx"
    assert run(capsys, "convert", model_path, "-o", low)[0] == 0
    code, stdout, _ = run(capsys, "convert", low, "-o", back, "--fuse")
    assert code == 0 and "fuse-lowered: rewrote 1 node(s)" in stdout
    original, fused = onnx.load(str(model_path)), onnx.load(str(back))
    assert [n.op_type for n in fused.graph.node] == [n.op_type for n in original.graph.node]


@pytest.mark.parametrize("args, message", [
    (["--strategy", "convtranspose2d", "--target", "no-convtranspose"], "cannot serve target 'no-convtranspose'"),
    (["--max-rank", "4"], "--max-rank 4 is below the rank 5"),
    (["--max-rank", "0"], "must be a positive rank"),
])
def test_impossible_requests_exit_2_naming_the_problem(tmp_path, capsys, model_path, args, message):
    out = tmp_path / "out.onnx"
    code, _, err = run(capsys, "convert", model_path, "-o", out, *args)
    assert_one_line_error(code, err)
    assert message in err and not out.exists()


def test_sizes_command(capsys):
    code, stdout, _ = run(capsys, "sizes", "example:ddae")
    assert code == 0 and "X axis 2: runs at 61 + 16n, 62 + 16n" in stdout
    assert "loses nothing at 61 + 16n" in stdout and "X axis 1: channels" in stdout
    code, stdout, _ = run(capsys, "sizes", "example:lenet", "--json")
    row = json.loads(stdout)["axes"][1]
    assert code == 0 and row["runs"]["singles"] == [28] and row["runs_by"].startswith("Gemm 'fc1_1_node'")
    assert "strip-sizes keeps it fixed" in row["bounded"] and "28, 29, 30, 31 only" in row["text"]
    code, stdout, _ = run(capsys, "sizes", "example:lenet", "--json", "--check-up-to", "0")
    assert json.loads(stdout)["axes"][1]["runs"]["singles"] == [28, 29, 30, 31]


def test_strip_then_fix_sizes_from_the_command_line(tmp_path, capsys):
    free, fixed = tmp_path / "free.onnx", tmp_path / "fixed.onnx"
    code, stdout, _ = run(capsys, "strip-sizes", "example:ddae", "-o", free)
    assert code == 0 and "freed X: axis 0 -> N, axis 2 -> H, axis 3 -> W" in stdout and "verify: equivalent" in stdout
    code, stdout, _ = run(capsys, "fix-sizes", free, "-o", fixed, "--fix-sizes", "X=1x1x77x77")
    assert code == 0
    dims = [d.dim_value for d in onnx.load(str(fixed)).graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 77, 77]


@pytest.mark.parametrize("command, args, message", [
    ("strip-sizes", ["example:lenet", "--axes", "2,3"], "(Gemm 'fc1_1_node' fixes its features at 800)"),
    ("strip-sizes", ["example:ddae", "--input", "nope"], "not a graph input"),
    ("strip-sizes", ["example:ddae", "--axes", "7"], "out of range"),
    ("strip-sizes", ["example:ddae", "--axes", "two"], "comma-separated integers"),
    ("fix-sizes", ["example:ddae", "--fix-sizes", "X=1x1x0x5"], "dims must be integers from 1 to"),
    ("fix-sizes", ["example:ddae", "--fix-sizes", "X=1x1x157"], "rank 4"),
])
def test_size_commands_refuse_bad_requests_with_exit_2(tmp_path, capsys, command, args, message):
    out = tmp_path / "out.onnx"
    code, _, err = run(capsys, command, *args, "-o", out)
    assert_one_line_error(code, err)
    assert message in err and not out.exists()


def test_lenet_slides_from_the_command_line(tmp_path, capsys):
    fc, free, dense = tmp_path / "fc.onnx", tmp_path / "free.onnx", tmp_path / "dense.onnx"
    assert run(capsys, "convert", "example:lenet", "--target", "fully-convolutional", "-o", fc)[0] == 0
    assert run(capsys, "strip-sizes", fc, "-o", free)[0] == 0
    code, stdout, _ = run(capsys, "convert", free, "--dense", "-o", dense)
    assert code == 0 and "strided-to-dense: rewrote 5 node(s)" in stdout and "verify: equivalent" in stdout
    code, stdout, _ = run(capsys, "verify", free, dense, "--sample-strides", "4,4", "--shape", "X=1x1x60x32")
    assert code == 0


class _Terminal:
    """A stderr that says it is a terminal and keeps what was written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_goes_to_a_terminal_stderr_and_nowhere_else(tmp_path, capsys, monkeypatch, model_path):
    code, _, err = run(capsys, "convert", model_path, "-o", tmp_path / "a.onnx")
    assert code == 0 and err == ""                       # not a terminal: nothing extra
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["convert", str(model_path), "-o", str(tmp_path / "b.onnx")]) == 0
    for stage in ("loading", "pass convtranspose-to-subpixel", "verifying at", "writing"):
        assert stage in terminal.text, stage
    assert terminal.text.endswith("\r\033[K")            # the line is cleared at the end


def test_a_verification_mismatch_exits_1_prints_the_report_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                                               model_path):
    from onnxport.converter.verification import comparison, verify as verify_mod
    failed = verify_mod.VerifyResult(False, "CPUExecutionProvider", 1e-4, 1e-4, [verify_mod.RunCheck(
        {"X": [1, 2, 3, 3, 3]}, [comparison.OutputCheck("Y", False, 0.5, 1.0, 2e-4)])])
    monkeypatch.setattr(cli.api, "verify_models", lambda *a, **k: failed)
    out, report = tmp_path / "out.onnx", tmp_path / "report.json"
    code, stdout, err = run(capsys, "convert", model_path, "-o", out, "--json", report)
    assert code == 1 and not out.exists()
    assert "not equivalent" in err and err.count("\n") == 1
    assert "verify: mismatch" in stdout and json.loads(report.read_text())["verification"]["ok"] is False


def test_json_means_one_thing_everywhere(tmp_path, capsys):
    """--json FILE writes the JSON (checked like any output), --json alone or --json - prints it instead."""
    for argv in (["sizes", "example:ddae"], ["shapes", "example:ddae"], ["inspect", "example:gan3d"],
                 ["verify", "example:ddae", "example:ddae"]):
        code, stdout, _ = run(capsys, *argv, "--json", "-")
        assert code == 0 and json.loads(stdout)["schema"] >= 2, argv
        out = tmp_path / f"{argv[0]}.json"
        code, _, _ = run(capsys, *argv, "--json", out)
        assert code == 0 and json.loads(out.read_text())["versions"]["onnxport"], argv
        code, _, err = run(capsys, *argv, "--json", out)                  # exists: only with --force
        assert_one_line_error(code, err)
    code, stdout, _ = run(capsys, "convert", "example:gan3d", "-o", tmp_path / "g.onnx", "--json", "-")
    data = json.loads(stdout)
    assert code == 0 and data["ok"] and data["verification"]["ok"] and data["summary"].startswith("example:gan3d")


def test_old_spellings_still_work_with_one_note(tmp_path, capsys):
    code, _, err = run(capsys, "convert", "example:gan3d", "-o", tmp_path / "g.onnx", "--report", tmp_path / "r.json")
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["ok"]
    assert err == "onnxport: note: --report FILE is now --json FILE (the same for every command); --report still works for now\n"
    free = tmp_path / "free.onnx"
    assert run(capsys, "strip-sizes", "example:ddae", "-o", free)[0] == 0
    code, _, err = run(capsys, "fix-sizes", free, "-o", tmp_path / "f.onnx", "--shape", "X=1x1x77x77")
    assert code == 0 and err.startswith("onnxport: note: fix-sizes --shape is now --fix-sizes") and err.count("\n") == 1


def test_version_names_the_versions_and_the_provider(capsys):
    code, stdout, _ = run(capsys, "--version")
    lines = stdout.splitlines()
    assert code == 0 and lines[0].startswith("onnxport ") and lines[1].startswith("onnx ")
    assert lines[2].startswith("onnxruntime ") and lines[3].startswith("provider: ")


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--bogus"], ["convert", "missing.onnx", "-o", "x.onnx"],
                                  ["verify", "example:gan3d", "no/such.onnx"]], ids=["help", "flag", "path", "verify"])
def test_help_and_argument_errors_load_no_numerical_library_and_are_fast(argv, tmp_path):
    script = ("import sys, time; t = time.perf_counter(); from onnxport import cli; code = cli.main(sys.argv[1:]); "
              "print(time.perf_counter() - t, 'onnx' in sys.modules, code)")
    out = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=tmp_path, check=True)
    seconds, heavy, code = out.stdout.split()[-3:]
    assert heavy == "False" and float(seconds) < 0.5 and code == ("0" if argv == ["--help"] else "2")


def test_a_closed_pipe_is_a_quiet_exit():
    cmd = f"{sys.executable} {os.path.join(ROOT, 'cli.py')} passes | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout == "passes:\n" and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_a_broken_onnxruntime_install_is_one_line_with_its_repair(capsys, monkeypatch):
    from onnxport.converter import runtime
    monkeypatch.setattr(runtime, "installed", lambda: ["onnxruntime", "onnxruntime-gpu"])
    runtime.onnxruntime.cache_clear()
    try:
        code, _, err = run(capsys, "verify", "example:ddae", "example:ddae")
    finally:
        runtime.onnxruntime.cache_clear()
    assert_one_line_error(code, err)
    assert "onnxruntime and onnxruntime-gpu are both installed" in err and "pip uninstall -y" in err


def test_when_cuda_does_not_run_the_reason_is_named(capsys):
    from onnxport.converter import runtime
    problem = runtime.cuda_problem()
    if problem is None:
        pytest.skip("CUDA runs here: there is no reason to name")
    code, _, err = run(capsys, "verify", "example:ddae", "example:ddae", "--provider", "cuda")
    assert_one_line_error(code, err)
    assert problem in err


def test_max_seconds_stops_a_command_with_nothing_written(tmp_path):
    """The backstop, in a process of its own as a user runs it: past --max-seconds the command stops, says
    which flag gives it more, and writes nothing."""
    out = tmp_path / "out.onnx"
    argv = [sys.executable, os.path.join(ROOT, "cli.py"), "convert", "example:gan3d", "-o", str(out),
            "--html", str(tmp_path / "r.html")]
    slow = ["--strategy", "auto"]                     # it times each candidate form for seconds
    done = subprocess.run(argv + slow + ["--max-seconds", "0.5"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-1000:]
    assert "--max-seconds" in done.stderr and "nothing written" in done.stderr
    assert list(tmp_path.iterdir()) == []
    done = subprocess.run(argv + ["--max-seconds", "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and out.exists(), done.stderr[-1000:]


@pytest.mark.parametrize("prefix", ["test_convtranspose", "test_resize"])
def test_sizes_and_strip_sizes_answer_every_node_test_model_in_one_line(prefix, tmp_path, capsys):
    """ONNX's own node-test models, whose weights, scales and sizes are graph inputs: the analysis says
    'unknown' there, and both commands answer every model (verification feeds a Resize's roi, scales and
    sizes inputs those of a 2x upsampling, over its `axes`: random scales did not run)."""
    from tests.helpers import onnx_node_cases
    for case in onnx_node_cases(prefix):
        model = onnx.ModelProto()
        model.CopyFrom(case.model)
        model.ir_version = min(model.ir_version, 10)
        path = tmp_path / f"{case.name}.onnx"
        onnx.save(model, str(path))
        for argv in (["sizes", path], ["strip-sizes", path, "-o", tmp_path / "out.onnx", "--force"]):
            code, _, err = run(capsys, *argv)
            assert code == 0, (case.name, argv[0], err)


@pytest.mark.parametrize("out", ["newname/.", "newname/..", "."])
def test_an_output_that_names_a_folder_is_refused(out, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "convert", "example:gan3d", "-o", out)
    assert_one_line_error(code, err)
    assert "not a folder" in err and list(tmp_path.iterdir()) == []


def test_an_input_name_longer_than_the_file_system_takes_is_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "sizes", tmp_path / ("a" * 300 + ".onnx"))
    assert_one_line_error(code, err)
    assert "File name too long" in err


@pytest.mark.parametrize("saved, says", [
    (np.zeros((0, 4, 2, 2, 2), np.float32), "an empty dim leaves nothing to compare"),
    (np.ones((1, 4, 2, 2, 2), np.complex64), "holds complex64 values"),
])
def test_saved_inputs_that_would_compare_nothing_or_change_are_refused(saved, says, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", x=saved)
    model = os.path.join(ROOT, "tests", "data", "real_exports", "decoder3d.torchscript.dynamic.onnx")
    code, _, err = run(capsys, "verify", model, model, "--inputs", tmp_path / "in.npz")
    assert_one_line_error(code, err)
    assert says in err


@pytest.mark.parametrize("value", ["null", "{}", "[" * 5000 + "]" * 5000, '[{"y": 1, "pass": []}]'])
def test_recipes_in_the_metadata_are_untrusted_data(value, tmp_path, capsys):
    """onnxport.lowered as anyone may write it (null, deep nesting, wrong types): read as no recipes."""
    model = examples.build("gan3d")
    onnx.helper.set_model_props(model, {"onnxport.lowered": value})
    onnx.save(model, str(tmp_path / "in.onnx"))
    code, _, err = run(capsys, "convert", tmp_path / "in.onnx", "-o", tmp_path / "out.onnx", "--fuse")
    assert code in (0, 1) and "Traceback" not in err, err


def test_an_input_of_unknown_element_type_is_one_line(tmp_path, capsys):
    model = examples.build("gan3d")
    model.graph.input[0].type.tensor_type.elem_type = 999
    onnx.save(model, str(tmp_path / "in.onnx"))
    code, _, err = run(capsys, "sizes", tmp_path / "in.onnx")
    assert_one_line_error(code, err)
    assert "unknown element type 999" in err


def test_an_input_with_a_zero_length_dim_is_answered_by_every_command(tmp_path, capsys):
    """A zero-length dim through a Reshape: no ZeroDivisionError anywhere, exit 0 or one line."""
    from onnxport.models._builder import NetBuilder
    b = NetBuilder("zero", seed=1)
    y = b.op("Reshape", [b.input("X", [1, 0, 4, 4]), b.const(np.array([1, -1, 4], np.int64))])
    b.output(b.op("Relu", [y]))
    path = tmp_path / "zero.onnx"
    onnx.save(b.build(), str(path))
    for argv in (["convert", path, "-o", tmp_path / "o.onnx"], ["sizes", path], ["shapes", path], ["inspect", path],
                 ["strip-sizes", path, "-o", tmp_path / "s.onnx"]):
        code, _, err = run(capsys, *argv)
        assert code == 0 or (code == 2 and err.count("\n") == 1), (argv[0], err)


def test_main_gives_an_in_process_caller_its_signal_handlers_back(capsys):
    """cli.main installs SIGTERM/SIGHUP handlers for its own run only: a test runner or a library user
    calling it keeps its own (a SIGTERM to a test session must still end it)."""
    import signal
    mine = lambda signum, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        run(capsys, "passes")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
