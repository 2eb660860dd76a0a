"""The runtime-facing commands: convert --target PROFILE, inspect, --strategy auto, --fix-sizes and the
cross-provider verify, through the command line."""
import json

import onnx
import pytest

from onnxport.converter.verification import sessions
from onnxport.models import convtranspose
from tests.cli.test_cli import assert_one_line_error, run
from tests.helpers import count_ops


def test_inspect_explains_every_coreml_blocker_of_the_unet(capsys):
    code, out, _ = run(capsys, "inspect", "example:unet3d", "--target", "coreml")
    assert code == 0, out
    blockers = [line for line in out.splitlines() if line.startswith("  '")]
    assert len(blockers) == 10                            # 8 Conv3d + 2 MaxPool3d; CoreML takes 3-D ConvTranspose
    assert out.count("      source: ") == len(blockers) and out.count("rewritable: ") == len(blockers)
    assert "conv3d-to-conv2d" in out and "pool3d-to-pool2d" in out
    assert out.rstrip().endswith("nothing the target forbids would remain")


def test_inspect_exits_1_and_says_why_when_something_would_remain(capsys):
    code, out, _ = run(capsys, "inspect", "example:ddae", "--target", "coreml", "--json")
    assert code == 1
    data = json.loads(out)
    assert not data["convertible"] and data["profile"]["name"] == "coreml"
    log = next(b for b in data["blockers"] if b["op"] == "Log")
    assert not log["rewritable"] and "not among the supported ops" in log["violates"] and log["source"]


def test_inspect_points_to_fix_sizes_for_a_static_runtime(capsys):
    code, out, _ = run(capsys, "inspect", "example:unet3d", "--target", "nnapi")
    assert code == 1 and "give --fix-sizes" in out
    code, out, _ = run(capsys, "inspect", "example:unet3d", "--target", "nnapi", "--fix-sizes", "X=1x1x16x24x32")
    assert code == 0, out


def test_convert_for_nnapi_with_fixed_sizes_writes_a_static_verified_model(tmp_path, capsys):
    out = tmp_path / "unet_nnapi.onnx"
    code, stdout, _ = run(capsys, "convert", "example:unet3d", "-o", out, "--target", "nnapi",
                          "--fix-sizes", "X=1x1x16x24x32")
    assert code == 0, stdout
    model = onnx.load(str(out))
    assert count_ops(model, "Shape") == 0 and count_ops(model, "ConvTranspose") == 0
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 1, 16, 24, 32]
    assert "verify: equivalent" in stdout and "fixed sizes X=1x1x16x24x32" in stdout


def test_a_refusal_is_one_line_naming_each_node_why_and_the_flag_that_fixes_it(tmp_path, capsys):
    """A static-size runtime and a net with free sizes: the input is named, with why, and --fix-sizes at a
    size the net runs at; giving that flag converts it."""
    out = tmp_path / "unet_opencv.onnx"
    code, _, err = run(capsys, "convert", "example:unet3d", "-o", out, "--target", "opencv")
    assert code == 1 and not out.exists() and err.count("\n") == 1, err
    assert err.startswith("onnxport: 1 node(s) still violate the target: graph input 'X': symbolic sizes "
                          "['N', 1, 'D', 'H', 'W'], and the runtime takes fixed ones; nothing written (--fix-sizes X=")
    fix = err.split("(--fix-sizes ")[1].split(" ")[0]
    code, stdout, _ = run(capsys, "convert", "example:unet3d", "-o", out, "--target", "opencv", "--fix-sizes", fix)
    assert code == 0 and out.exists(), stdout


def test_convert_for_a_runtime_the_net_cannot_reach_lists_what_remains(tmp_path, capsys):
    """rknn takes rank 4 at most: fixed sizes would not help, so the refusal offers no --fix-sizes (it is
    offered only where converting at those sizes was checked to reach the target)."""
    out = tmp_path / "unet_rknn.onnx"
    code, stdout, err = run(capsys, "convert", "example:unet3d", "-o", out, "--target", "rknn")
    assert code == 1 and not out.exists()
    assert "still violate the target" in err and "(at most 4)" in stdout
    assert "--fix-sizes" not in err and "(--allow-partial writes it anyway)" in err
    assert "verify: skipped (the target is not reached)" in stdout


def test_auto_strategy_reports_a_timed_choice_per_convtranspose(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(tmp_path / "cache"))      # the user names a cache folder
    out, report = tmp_path / "gan.onnx", tmp_path / "report.json"
    code, stdout, _ = run(capsys, "convert", "example:gan3d", "-o", out, "--strategy", "auto", "--json", report)
    assert code == 0, stdout
    choices = json.loads(report.read_text())["strategy_choices"]
    assert len(choices) == 4
    for c in choices:
        assert set(c["timings_ms"]) == {"subpixel", "convtranspose2d", "resize-conv"}
        timings = c["timings_ms"]        # another form only when faster than the preferred one: the choice is
        # made on the median of per-round ratios, the ms medians come from other rounds: noise may part them
        assert c["strategy"] == "subpixel" or timings[c["strategy"]] < 1.1 * timings["subpixel"], c
    assert stdout.count("auto: '") == 4 and "fastest of 3 allowed form(s) on CPUExecutionProvider" in stdout
    assert "interleaved rounds" in stdout

    again = tmp_path / "again.json"
    code, stdout, _ = run(capsys, "convert", "example:gan3d", "-o", tmp_path / "gan2.onnx", "--strategy", "auto",
                          "--json", again)
    picked = lambda found: [(c["node"], c["strategy"], c["timings_ms"]) for c in found]     # noqa: E731
    assert code == 0 and picked(json.loads(again.read_text())["strategy_choices"]) == picked(choices)
    assert stdout.count("cached from an earlier timing of this layer") == 4


def test_auto_strategy_writes_no_cache_the_user_did_not_name(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, stdout, _ = run(capsys, "convert", "example:gan3d", "-o", tmp_path / "gan.onnx", "--strategy", "auto")
    assert code == 0 and "interleaved rounds" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.onnx"]


def test_auto_strategy_without_timing_is_deterministic_and_skips_refused_forms(tmp_path, capsys):
    path = tmp_path / "ct2d.onnx"
    onnx.save(convtranspose.build([6, 6], strides=[3, 3], consumer="Relu"), str(path))
    reports = []
    for i in range(2):
        report = tmp_path / f"r{i}.json"
        code, stdout, _ = run(capsys, "convert", path, "-o", tmp_path / f"o{i}.onnx", "--target", "no-convtranspose",
                              "--strategy", "auto", "--no-timing", "--json", report)
        assert code == 0, stdout
        reports.append(json.loads(report.read_text())["strategy_choices"])
    assert reports[0] == reports[1]
    (choice,) = reports[0]
    assert choice["strategy"] == "subpixel" and not choice["timings_ms"]
    assert "3-D" in choice["refused"]["convtranspose2d"]             # the 2-D-to-2-D form does not apply to a 2-D node


def test_cross_provider_verify(capsys):
    code, out, err = run(capsys, "verify", "example:gan3d", "--against-provider", "cpu")
    if sessions.cuda_usable():
        assert code == 0 and "CUDAExecutionProvider vs CPUExecutionProvider" in out
    else:
        assert_one_line_error(code, err)
        assert "CUDA does not load on this machine" in err


@pytest.mark.parametrize("argv, message", [
    (["verify", "example:gan3d"], "needs a second model"),
    (["verify", "example:gan3d", "--provider", "cpu", "--against-provider", "cpu"], "both sides would run on"),
    (["inspect", "example:gan3d", "--target", "nosuchruntime"], "unknown target"),
    (["inspect", "example:gan3d", "--target", "./missing.toml"], "no runtime profile"),
    (["convert", "example:gan3d", "-o", "x.onnx", "--target", "coreml,nnapi"], "one runtime profile at a time"),
    (["convert", "example:gan3d", "-o", "x.onnx", "--fix-sizes", "q=1x2"], "--fix-sizes q: not a graph input"),
])
def test_bad_runtime_arguments_are_one_line_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err)
    assert message in err and not (tmp_path / "x.onnx").exists()


def test_inspect_passes_on_a_profiles_notes(capsys):
    code, out, _ = run(capsys, "inspect", "example:keras_gan2d", "--target", "openvino")
    assert code == 0 and "note: The CPU plugin runs float32 models in bf16" in out
    assert "SAME_UPPER" in out and "normalize-convtranspose-padding" in out
