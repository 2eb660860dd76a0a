"""gelu-scale-last: the dynamo exporter's GELU reordered so the power-of-two scale comes last, bit-identical."""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from onnxport.converter import api
from onnxport.models import exporter_patterns
from tests.helpers import assert_structurally_valid, run_pass

NAME = "gelu-scale-last"
REAL_EXPORTS = Path(__file__).parents[1] / "data" / "real_exports"


def outputs(model, x):
    """Unoptimised: onnxruntime's own GELU fusion would replace the products being compared."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {model.graph.input[0].name: x})[0]


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("scale", [0.5, 0.25, 2.0])
def test_the_reordered_gelu_is_bit_identical(swap, scale):
    model = exporter_patterns.gelu("dynamo", scale=scale, swap=swap)
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    muls = [n for n in out.graph.node if n.op_type == "Mul"]
    assert muls[-1].output[0] == model.graph.output[0].name and "half" in muls[-1].input[1]
    assert_structurally_valid(out, model)
    rng = np.random.default_rng(0)
    for shape, spread in (((1, 3, 8), 1.0), ((2, 5, 8), 30.0), ((3, 1, 8), 1e-3)):
        x = (rng.standard_normal(shape) * spread).astype(np.float32)
        assert np.array_equal(outputs(model, x), outputs(out, x))


@pytest.mark.parametrize("model", [
    exporter_patterns.gelu("torchscript"),                  # already scale last
    exporter_patterns.gelu("dynamo", scale=0.3),            # 0.3 is not a power of two: rounding would change
], ids=["torchscript", "not-a-power-of-two"])
def test_other_products_are_not_its_business(model):
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and not report.skipped


def test_a_halved_term_used_elsewhere_stays():
    model = exporter_patterns.gelu("dynamo")
    halved = next(n.output[0] for n in model.graph.node if n.output[0].startswith("halved"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(halved, onnx.TensorProto.FLOAT, None))
    _, report = run_pass(model, NAME)
    assert report.applied == 0


def test_a_dynamo_vit_is_reordered_and_computes_what_monai_did():
    """MONAI UNETR through torch.onnx dynamo: 12 GELUs; the target reaches every one, outputs unchanged."""
    model = onnx.load(str(REAL_EXPORTS / "monai_unetr.dynamo.fixed.onnx"))
    converted, report = api.convert_model(model, targets=["gelu-scale-last"])
    assert not report.remaining
    assert next(p for p in report.passes if p.name == NAME).applied == 12
    stored = np.load(REAL_EXPORTS / "monai_unetr.npz")
    x, want = stored["x0"], stored["y0"]
    got = outputs(converted, x)
    assert np.array_equal(got, outputs(model, x))
    assert np.max(np.abs(got - want)) <= 1e-4 + 1e-4 * np.max(np.abs(want))
