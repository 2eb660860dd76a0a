"""fold-batchnorm: Conv/ConvTranspose + inference BatchNormalization folds exactly; look-alikes stay."""
import numpy as np
import onnx
import pytest

from onnxport.converter import api
from onnxport.models._builder import NetBuilder
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, run_pass

NAME = "fold-batchnorm"


def conv_bn(op="Conv", spatial=("D", "H", "W"), cin=4, cout=6, group=1, bias=True, shared=False, seed=3, **attrs):
    """X -> Conv or ConvTranspose -> BatchNormalization (random, non-trivial statistics) -> Relu."""
    b = NetBuilder("conv_bn", seed=seed)
    x = b.input("X", ["N", cin] + list(spatial))
    kernel = [3] * len(spatial)
    if op == "Conv":
        y = b.conv(x, cin, cout, kernel, "c", bias=bias, group=group, pads=[1] * (2 * len(spatial)), **attrs)
    else:
        y = b.conv_transpose(x, cin, cout, kernel, "c", bias=bias, group=group, strides=[2] * len(spatial), **attrs)
    z = b.batch_norm(y, cout)
    out = b.op("Relu", [z])
    if shared:
        out = b.op("Add", [out, y])
    b.output(out)
    return b.build()


@pytest.mark.parametrize("kwargs", [
    dict(), dict(bias=False), dict(group=2), dict(spatial=("H", "W")), dict(spatial=("L",)),
    dict(op="ConvTranspose"), dict(op="ConvTranspose", bias=False), dict(op="ConvTranspose", group=2),
    dict(op="ConvTranspose", spatial=("H", "W"), cin=6, cout=4, group=2), dict(cin=16, cout=16, spatial=(16, 16, 16)),
])
def test_folds_exactly(kwargs):
    model = conv_bn(**kwargs)
    out, report = run_pass(model, NAME)
    assert report.applied == 1, report.skipped
    assert count_ops(out, "BatchNormalization") == 0
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=2)


def pre_activation_bn(spatial=("D", "H", "W"), channels=4):
    """X -> BatchNormalization -> Relu -> Conv (DenseNet's pre-activation order: no Conv before the BN)."""
    b = NetBuilder("bn_relu_conv", seed=5)
    x = b.input("X", ["N", channels] + list(spatial))
    y = b.op("Relu", [b.batch_norm(x, channels)])
    b.output(b.conv(y, channels, 3, [3] * len(spatial), "c", pads=[1] * (2 * len(spatial))))
    return b.build()


@pytest.mark.parametrize("model", [conv_bn(shared=True), pre_activation_bn(), pre_activation_bn(("H", "W"))],
                         ids=["conv-output-used-elsewhere", "pre-activation-3d", "pre-activation-2d"])
def test_a_batchnorm_with_no_conv_to_fold_into_becomes_mul_and_add(model):
    out, report = run_pass(model, NAME)
    assert report.applied == 1, report.skipped
    assert count_ops(out, "BatchNormalization") == 0 and count_ops(out, "Mul") == 1
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=2)


def test_a_training_mode_batchnorm_stays_with_the_reason():
    model = conv_bn()
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    bn.attribute.append(onnx.helper.make_attribute("training_mode", 1))
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "inference form" in report.skipped[0][1]


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
def test_the_coreml_profile_folds_batchnorm_and_leaves_none(op):
    """The coreml profile: BatchNormalization is not in CoreML's ML Program table; it is folded before the
    ConvTranspose is lowered (the fold needs the ConvTranspose itself), and nothing is left."""
    model = conv_bn(op, spatial=("H", "W"))
    out, report = api.convert_model(model, api.ConvertOptions(targets=["coreml"]))
    assert count_ops(out, "BatchNormalization") == 0
    assert report.verification is None or report.verification.ok
