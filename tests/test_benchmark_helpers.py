"""The pieces the benchmarks are built from: the layer nets they time and the kernel profile they print."""
import numpy as np

from benchmarks.common import kernel_ms
from onnxport.models import convtranspose


def test_a_layer_can_feed_a_chain_of_consumers():
    model = convtranspose.build([4, 4, 4], 2, 3, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool")
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose", "Relu", "GlobalAveragePool"]


def test_kernel_times_name_every_op_type_the_session_runs():
    model = convtranspose.build([4, 4, 4], 2, 3, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool")
    totals = kernel_ms(model, {"X": np.ones((1, 2, 4, 4, 4), np.float32)}, "cpu", 1, runs=3)
    assert set(totals) == {"ConvTranspose", "Relu", "GlobalAveragePool"}
    assert all(ms > 0 for ms in totals.values())


def test_the_zoo_matrix_tells_a_pass_a_one_line_refusal_and_a_failure_apart(tmp_path, monkeypatch):
    from benchmarks import zoo
    fixture = zoo.FIXTURES / "monai_unet_plain.torchscript.dynamic.onnx"
    assert zoo.run_one(["sizes", str(fixture), "--check-up-to", "0"])["outcome"] == "pass"
    refused = zoo.run_one(["sizes", str(tmp_path / "missing.onnx")])
    assert refused["outcome"] == "refuse" and "no such file" in refused["why"] and refused["peak_mib"] > 0
    monkeypatch.setattr(zoo, "TIMEOUT_S", 0.05)
    hung = zoo.run_one(["sizes", str(fixture)])
    assert hung["outcome"] == "fail" and hung["why"] == "timeout after 0.05 s"
    text = zoo.markdown({"a.onnx": {"sizes": refused}}, "header")
    assert "| a.onnx | R " in text and "1 refuse of 1 commands" in text and "a.onnx `sizes`: refuse:" in text
