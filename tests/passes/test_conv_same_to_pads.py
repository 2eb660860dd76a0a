"""conv-same-to-pads: Conv and pools with auto_pad SAME_*/VALID written with explicit pads, exact."""
from pathlib import Path

import numpy as np
import onnx
from hypothesis import given, reject, settings, strategies as st

from onnxport.converter import api
from onnxport.models import conv, pool
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, run_model, run_pass

NAME = "conv-same-to-pads"
REAL_EXPORTS = Path(__file__).parents[1] / "data" / "real_exports"


@st.composite
def same_models(draw):
    """One Conv or pool of 1-3 spatial dims in an auto_pad form; symbolic lengths where every stride is 1
    (the only case the pass takes them)."""
    op = draw(st.sampled_from(["Conv", "MaxPool", "AveragePool", "LpPool"]))
    rank = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 4)) for _ in range(rank)]
    strides = [draw(st.integers(1, 3)) for _ in range(rank)]
    if any(k < s for k, s in zip(kernel, strides)):
        reject()
    auto_pad = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    lengths = [draw(st.integers(1, 9)) for _ in range(rank)]
    if auto_pad == "VALID" and any(n < k for n, k in zip(lengths, kernel)):
        reject()
    symbolic = set(strides) == {1} and draw(st.booleans())
    spatial = [f"L{i}" for i in range(rank)] if symbolic else lengths
    batch = draw(st.sampled_from([1, 2, "N"]))
    attrs = {"strides": strides, "auto_pad": auto_pad}
    if op == "Conv":
        model = conv.build(spatial, cin=2, cout=draw(st.integers(1, 3)), kernel=kernel, batch=batch, **attrs)
    else:
        if op != "LpPool":
            attrs["ceil_mode"] = draw(st.integers(0, 1))
        if op == "AveragePool":
            attrs["count_include_pad"] = draw(st.integers(0, 1))
        model = pool.build(op, spatial, kernel, batch=batch, **attrs)
    return model, {"X": (2 if batch == "N" else batch, 2, *lengths)}


@settings(max_examples=120, deadline=None)
@given(same_models())
def test_random_configurations_are_exact(case):
    model, sizes = case
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    node = out.graph.node[0]
    assert "auto_pad" not in {a.name for a in node.attribute} and any(a.name == "pads" for a in node.attribute)
    assert_structurally_valid(out, model)
    assert_equivalent(model, out, shapes=sizes, runs=1)


def test_what_depends_on_rules_of_its_own_or_on_the_length_is_left_with_a_reason():
    cases = {
        "dilations": conv.build([8, 8], kernel=[3, 3], dilations=[2, 2], auto_pad="SAME_UPPER"),
        "shorter than the stride": pool.build("MaxPool", [8, 8], [1, 1], strides=[2, 2], auto_pad="SAME_LOWER"),
        "symbolic length": conv.build(["H", "W"], kernel=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    }
    for what, model in cases.items():
        out, report = run_pass(model, NAME)
        assert report.applied == 0 and len(report.skipped) == 1, what
        assert out.graph.node[0].attribute == model.graph.node[0].attribute, what


def test_explicit_pads_are_not_its_business():
    _, report = run_pass(conv.build([8, 8], pads=[1, 1, 1, 1]), NAME)
    assert report.applied == 0 and not report.skipped


def test_no_conv3d_takes_a_keras_same_conv3d_as_tf2onnx_wrote_it():
    """tf2onnx writes Keras padding="same" as SAME_UPPER over symbolic sizes; no-conv3d used to leave those."""
    model = onnx.load(str(REAL_EXPORTS / "keras_unet3d.tf2onnx.dynamic.onnx"))
    assert count_ops(model, "Conv", spatial_rank=3) > 0
    converted, report = api.convert_model(model, targets=["no-conv3d"])
    assert not report.remaining and count_ops(converted, "Conv", spatial_rank=3) == 0
    x, want = (np.load(REAL_EXPORTS / "keras_unet3d.npz")[k] for k in ("x0", "y0"))
    assert_equivalent(model, converted, shapes={model.graph.input[0].name: x.shape})
    got = run_model(converted, {model.graph.input[0].name: x})[0]
    assert np.max(np.abs(got - want)) <= 1e-4 + 1e-4 * np.max(np.abs(want))      # and Keras' own output
