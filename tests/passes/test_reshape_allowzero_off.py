"""reshape-allowzero-off: allowzero=1 dropped where the constant target has no 0; kept where it decides."""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxport.converter import api
from tests.helpers import assert_structurally_valid, run_pass

NAME = "reshape-allowzero-off"
REAL_EXPORTS = Path(__file__).parents[1] / "data" / "real_exports"


def reshape_model(target, computed: bool = False) -> onnx.ModelProto:
    """X (2, 3, 4) -> Reshape(allowzero=1) with a constant target, or one computed from a Shape."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 4])
    shape = [2, 3, 4] if computed else list(target) if 0 in target else list(np.empty((2, 3, 4)).reshape(target).shape)
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, shape)
    if computed:
        nodes = [helper.make_node("Shape", ["X"], ["target"])]
        inits = []
    else:
        nodes, inits = [], [numpy_helper.from_array(np.array(target, np.int64), "target")]
    nodes.append(helper.make_node("Reshape", ["X", "target"], ["Y"], allowzero=1))
    graph = helper.make_graph(nodes, "reshape", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


def run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]


@pytest.mark.parametrize("target", [[6, 4], [-1, 2, 2], [2, 12], [24]])
def test_a_target_without_zero_reads_the_same_without_allowzero(target):
    model = reshape_model(target)
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert not [a for n in out.graph.node for a in n.attribute if a.name == "allowzero"]
    assert_structurally_valid(out, model)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    assert np.array_equal(run(model, x), run(out, x))


def test_a_zero_in_the_target_keeps_allowzero_with_the_reason():
    _, report = run_pass(reshape_model([0, 12]), NAME)
    assert report.applied == 0 and "has a 0" in report.skipped[0][1]


def test_a_computed_target_keeps_allowzero_with_the_reason():
    _, report = run_pass(reshape_model(None, computed=True), NAME)
    assert report.applied == 0 and "computed target" in report.skipped[0][1]


def test_the_dynamo_depth_into_batch_export_loses_every_allowzero_and_still_computes_what_torch_did():
    model = onnx.load(str(REAL_EXPORTS / "depth_into_batch.dynamo.fixed.onnx"))
    converted, report = api.convert_model(model, targets=["no-reshape-allowzero"])
    assert not report.remaining and next(p for p in report.passes if p.name == NAME).applied == 2
    stored = np.load(REAL_EXPORTS / "depth_into_batch.npz")
    name = converted.graph.input[0].name
    session = ort.InferenceSession(converted.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: stored["x0"]})[0]
    assert np.max(np.abs(got - stored["y0"])) <= 1e-4 + 1e-4 * np.max(np.abs(stored["y0"]))
