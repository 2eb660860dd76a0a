"""fold-convtranspose-crop and fold-convtranspose-bias on tf2onnx's Conv*DTranspose export."""
import numpy as np
import pytest
from onnx import helper

from onnxport.converter import api
from onnxport.models import convtranspose, exporter_patterns
from tests.helpers import assert_equivalent, assert_structurally_valid, run_pass


@pytest.mark.parametrize("kwargs", [
    dict(), dict(kernel=4), dict(kernel=1, strides=2), dict(kernel=2, strides=3), dict(kernel=(3, 1, 4), strides=(2, 3, 2)),
    dict(spatial=("H", "W"), kernel=4), dict(spatial=(5, 6, 7)), dict(weights="constant"),
])
def test_the_tf2onnx_tail_folds_into_one_convtranspose(kwargs):
    model = exporter_patterns.tf2onnx_deconv(**kwargs)
    out, report = api.convert_model(model, fuse=True)
    applied = {p.name: p.applied for p in report.passes}
    assert applied["fold-convtranspose-crop"] == 1 and applied["fold-convtranspose-bias"] == 1
    assert [n.op_type for n in out.graph.node if n.op_type != "Constant"] == ["ConvTranspose"]   # W may stay a Constant node
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=3)


def test_a_crop_that_changes_with_the_size_stays():
    """Cropping to a fixed length (not a constant margin) is no ConvTranspose padding."""
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], bias=False)
    y = model.graph.output[0].name
    model.graph.node[0].output[0] = "full"
    consts = [helper.make_tensor(n, 7, [3], v) for n, v in (("s", [0, 0, 0]), ("e", [4, 4, 4]), ("a", [2, 3, 4]))]
    model.graph.initializer.extend(consts)
    model.graph.node.append(helper.make_node("Slice", ["full", "s", "e", "a"], [y]))
    _, report = run_pass(model, "fold-convtranspose-crop")
    assert report.applied == 0 and "changes with the input size" in report.skipped[0][1]


def test_a_bias_add_that_is_not_per_channel_stays():
    model = exporter_patterns.tf2onnx_deconv(spatial=(5, 6, 7))
    bias = next(i for i in model.graph.initializer if i.name.startswith("bias"))
    bias.CopyFrom(helper.make_tensor(bias.name, 1, [1, 3, 1, 1, 2], np.ones(6, np.float32)))
    _, report = api.convert_model(model, fuse=True)
    skipped = {p.name: p.skipped for p in report.passes}
    assert "not per channel" in skipped["fold-convtranspose-bias"][0][1]
