"""Example nets: deterministic, valid, runnable, and what their docstrings say they are."""
import numpy as np
import onnx
import pytest

from onnxport.converter import api
from onnxport.models import examples
from tests.helpers import count_ops, run_model

FEEDS = {"gan3d": {"z": (2, 32, 1, 1, 1)}, "unet3d": {"X": (1, 1, 8, 12, 16)}, "keras_gan2d": {"z": (2, 32)},
         "wolfram_resize3d": {"X": (1, 4, 6, 8, 10)}, "wolfram_resize3d_nearest": {"X": (1, 4, 6, 8, 10)},
         "ddae": {"X": (2, 1, 157, 157)}, "lenet": {"X": (3, 1, 28, 28)}}
OUTPUTS = {"gan3d": (2, 1, 32, 32, 32), "unet3d": (1, 2, 8, 12, 16), "keras_gan2d": (2, 32, 32, 3),
           "wolfram_resize3d": (1, 3, 12, 16, 20), "wolfram_resize3d_nearest": (1, 3, 12, 16, 20),
           "ddae": (2, 1, 157, 157), "lenet": (3, 10)}


@pytest.mark.parametrize("name", sorted(examples.EXAMPLES))
def test_example_is_deterministic_valid_and_runs(name):
    model = examples.build(name)
    assert model.SerializeToString() == examples.build(name).SerializeToString()
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 10 and model.opset_import[0].version == 17
    rng = np.random.default_rng(0)
    feeds = {k: np.abs(rng.standard_normal(v)).astype(np.float32) for k, v in FEEDS[name].items()}
    (y,) = run_model(model, feeds)
    assert y.shape == OUTPUTS[name] and np.isfinite(y).all() and y.std() > 0


@pytest.mark.parametrize("name, rank, count", [("gan3d", 3, 4), ("unet3d", 3, 2), ("keras_gan2d", 2, 1)])
def test_examples_have_the_convtransposes_they_exist_for(name, rank, count):
    assert count_ops(examples.build(name), "ConvTranspose", spatial_rank=rank) == count


@pytest.mark.parametrize("name", ["gan3d", "keras_gan2d", "unet3d"])
def test_every_convtranspose_example_ports_and_verifies(name):
    model = examples.build(name)
    converted, report = api.convert_model(model, targets=["no-convtranspose"])
    assert count_ops(converted, "ConvTranspose") == 0 and not report.remaining
    result = api.verify_models(model, converted, api.VerifyOptions(provider="cpu", runs=2))
    assert result.ok, result.summary()
