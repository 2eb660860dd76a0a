"""ConvTranspose configurations every lowering is tested on, and the checks they share.

GRID names one configuration per attribute combination worth pinning; random_models draws the rest
(1-D/2-D/3-D, groups, strides, dilations, pads, auto_pad, output_shape, output_padding, bias, symbolic
dims); node_test_cases are onnx's own test_convtranspose* cases, W as input and as initializer.
"""
import numpy as np
import onnx
import pytest
from hypothesis import reject, strategies as st
from onnx import numpy_helper

from onnxport.models import convtranspose
from onnxport.passes._registry import Options
from tests.helpers import (assert_equivalent, assert_structurally_valid, count_ops, max_rank_of_new_tensors,
                           onnx_node_cases, run_model, run_pass)

GRID = {
    "k3s2p1op1": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, output_padding=[1] * 3),
    "k2s2": dict(spatial=["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2]),
    "k4s2p1": dict(spatial=[4, 5, 6], kernel=[4, 4, 4], strides=[2, 2, 2], pads=[1] * 6, batch="N"),
    "stride1": dict(spatial=[4, 5, 6], kernel=[3, 3, 3], pads=[1] * 6),
    "asym_pads": dict(spatial=[5, 4, 3], kernel=[5, 3, 1], strides=[3, 2, 1], pads=[2, 0, 0, 1, 1, 0],
                      output_padding=[1, 0, 0]),
    "dilated_group": dict(spatial=[4, 5, 3], cin=4, cout=6, group=2, kernel=[3, 2, 5], strides=[2, 3, 2],
                          dilations=[2, 3, 3]),
    "depthwise": dict(spatial=["D", "H", "W"], cin=4, cout=4, group=4, kernel=[3, 3, 3], strides=[2, 2, 2]),
    "same_upper": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], auto_pad="SAME_UPPER"),
    "same_lower_aniso": dict(spatial=[3, 4, 5], kernel=[3, 3, 4], strides=[2, 3, 2], auto_pad="SAME_LOWER"),
    "same_negative_total": dict(spatial=[3, 4, 5], kernel=[1, 2, 1], strides=[2, 3, 3], auto_pad="SAME_UPPER"),
    "valid": dict(spatial=[3, 4, 5], kernel=[2, 3, 2], strides=[2, 2, 3], auto_pad="VALID", bias=False),
    "output_shape": dict(spatial=[3, 4, 5], kernel=[3, 3, 3], strides=[2, 2, 2], output_shape=[6, 8, 10]),
    "output_shape_beyond_full": dict(spatial=[3, 4, 5], kernel=[2, 2, 2], strides=[3, 3, 3], output_shape=[9, 12, 15]),
    "k1s2op1": dict(spatial=["D", "H", "W"], kernel=[1, 1, 1], strides=[2, 2, 2], output_padding=[1] * 3),
    "no_bias": dict(spatial=[3, 3, 3], kernel=[4, 4, 4], strides=[2, 2, 2], pads=[1] * 6, bias=False),
    "consumer": dict(spatial=["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6, consumer="Relu"),
    "2d": dict(spatial=["H", "W"], kernel=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
    "1d": dict(spatial=["L"], kernel=[5], strides=[3], pads=[2, 1], output_padding=[2]),
}


@st.composite
def random_models(draw, spatial_ranks=(1, 2, 3, 3)):
    nd = draw(st.sampled_from(spatial_ranks))
    g = draw(st.sampled_from([1, 1, 2, 4]))
    iso = draw(st.booleans())
    axis = lambda lo, hi: [draw(st.integers(lo, hi))] * nd if iso else [draw(st.integers(lo, hi)) for _ in range(nd)]
    kernel, strides = axis(1, 5), axis(1, 3)
    dilations = axis(1, 2) if draw(st.booleans()) else None
    d = dilations or [1] * nd
    lengths = axis(2, 5)
    cfg = dict(kernel=kernel, strides=strides, dilations=dilations, group=g, cin=g * draw(st.integers(1, 2)),
               cout=g * draw(st.integers(1, 2)), bias=draw(st.booleans()),
               consumer=draw(st.sampled_from([None, "Relu", "Relu+Neg", "Sigmoid+Neg", "LeakyRelu+Neg"])))
    mode = draw(st.sampled_from(["pads", "pads", "auto", "output_shape", "none"]))
    if mode == "pads":
        eff = [dd * (k - 1) + 1 for k, dd in zip(kernel, d)]
        cfg["pads"] = [draw(st.integers(0, min(e - 1, 3))) for e in eff] + [draw(st.integers(0, min(e - 1, 3))) for e in eff]
    elif mode == "auto":
        cfg["auto_pad"] = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    if mode in ("pads", "none", "output_shape") and draw(st.booleans()):
        cfg["output_padding"] = [draw(st.integers(0, max(s, dd) - 1)) for s, dd in zip(strides, d)]
    op = cfg.get("output_padding") or [0] * nd
    full = [s * (n - 1) + o + dd * (k - 1) + 1 for s, n, o, dd, k in zip(strides, lengths, op, d, kernel)]
    if mode == "output_shape":
        cfg["output_shape"] = [draw(st.integers(max(1, f - dd * (k - 1)), f)) for f, dd, k in zip(full, d, kernel)]
    symbolic = draw(st.sampled_from(["none", "batch", "all"])) if mode != "output_shape" else "batch"
    cfg["batch"] = "N" if symbolic != "none" else 1
    cfg["spatial"] = [f"S{i}" for i in range(nd)] if symbolic == "all" else lengths
    return cfg, lengths


def node_test_cases():
    cases = []
    for case in onnx_node_cases("test_convtranspose"):
        cases.append(pytest.param(case, False, id=case.name))
        cases.append(pytest.param(case, True, id=case.name + "_constw"))
    return cases




def check_lowering(model, name: str, *, removed_rank: int | None = None, runs: int = 3, shapes=None,
                   options: Options = Options()):
    """The pass fires once, no ConvTranspose of that rank remains, the graph is valid and equivalent."""
    out, report = run_pass(model, name, options)
    assert report.applied == 1, report.skipped
    assert count_ops(out, "ConvTranspose", spatial_rank=removed_rank) == 0
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, shapes=shapes, runs=runs)
    return out


def check_random_model(case, seed, name: str, removed_rank: int | None = None):
    cfg, lengths = case
    model = convtranspose.build(**cfg, seed=seed)
    try:
        run_model(model, {"X": np.zeros([1, cfg["cin"]] + lengths, np.float32)})
    except Exception:  # noqa: BLE001 - a configuration onnxruntime itself rejects is not a case
        reject()
    shapes = {"X": tuple([1, cfg["cin"]] + lengths)} if cfg["spatial"] != lengths else None
    check_lowering(model, name, removed_rank=removed_rank, runs=2, shapes=shapes)
    if shapes is not None:      # symbolic sizes: other sizes too (no size is baked in)
        out, _ = run_pass(model, name)
        assert_equivalent(model, out, runs=2)


def check_node_test(case, constant_weights: bool, name: str):
    """An onnx backend node test through the pass: outputs equal to the test's expected ones."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    feeds = dict(zip([i.name for i in model.graph.input], inputs))
    if constant_weights:
        model.graph.initializer.append(numpy_helper.from_array(feeds.pop("W"), "W"))
        del model.graph.input[1]
    out, report = run_pass(model, name)
    assert report.applied == 1
    got = run_model(out, feeds)[0]
    assert got.shape == expected[0].shape
    assert np.max(np.abs(got - expected[0])) <= 1e-4 + 1e-4 * np.max(np.abs(expected[0]))
    return out


def assert_rank_at_most(out, limit: int, shapes: dict):
    assert max_rank_of_new_tensors(out, shapes) <= limit
