"""resize5d-to-resize4d: every separable Resize form as 4-D Resizes, against onnxruntime's own 5-D Resize
(onnx's reference where onnxruntime has no kernel, e.g. cubic), plus onnx's node tests lifted to 5-D."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper

from onnxport.converter import api
from onnxport.errors import UnsupportedGraph
from onnxport.models import resize
from onnxport.passes._registry import Options
from tests.helpers import (assert_equivalent, assert_same_as_original, assert_structurally_valid, onnx_node_cases,
                           run_pass)

NAME = "resize5d-to-resize4d"
COORDINATES = ["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners", "half_pixel_symmetric"]


def lowered(model, options=Options()):
    out, report = run_pass(model, NAME, options)
    assert report.applied == 1, report.skipped
    assert_structurally_valid(out, like=model)
    assert all(n.name.startswith("resize_1_node/") for n in out.graph.node if n.op_type == "Resize")
    return out


def chain_ranks(out, shape):
    """Ranks of every tensor the chain created (the Resize's own 5-D output excluded), at a concrete size."""
    m = helper.make_model(out.graph, opset_imports=out.opset_import)
    m.graph.input[0].type.tensor_type.shape.CopyFrom(helper.make_tensor_type_proto(1, shape).tensor_type.shape)
    from onnx import shape_inference
    inferred = shape_inference.infer_shapes(m)
    produced = {o for n in out.graph.node if n.name.startswith("resize_1_node/") for o in n.output}
    return {len(vi.type.tensor_type.shape.dim) for vi in inferred.graph.value_info
            if vi.name in produced and vi.name != "resize_1"}


@pytest.mark.parametrize("mode, coordinate", list(itertools.product(["nearest", "linear"], COORDINATES))
                         + [("nearest", "tf_half_pixel_for_nn")])
@pytest.mark.parametrize("scales", [(2, 1.5, 3), (0.5, 0.75, 2)], ids=["up", "mixed"])
def test_modes_and_coordinates(mode, coordinate, scales):
    model = resize.build([1, 2, 4, 6, 5], scales=[1, 1, *scales], mode=mode, coordinate_transformation_mode=coordinate)
    assert_same_as_original(model, lowered(model))


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
def test_nearest_modes(nearest_mode):
    model = resize.build([1, 2, 4, 6, 5], scales=[1, 1, 1.7, 2.3, 0.6], nearest_mode=nearest_mode)
    assert_same_as_original(model, lowered(model))


@pytest.mark.parametrize("attrs", [
    dict(mode="cubic"), dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1),
    dict(mode="cubic", coordinate_transformation_mode="asymmetric"),
    dict(mode="linear", antialias=1, scales=[1, 1, 0.5, 0.6, 0.4]),
    dict(mode="cubic", antialias=1, scales=[1, 1, 0.5, 0.7, 0.6]),
    dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=3.0,
         roi=[0, 0, 0.2, -0.1, 0.3, 1, 1, 0.9, 1.2, 0.8]),
    dict(mode="nearest", coordinate_transformation_mode="tf_crop_and_resize", roi=[0, 0, 0.1, 0.2, 0, 1, 1, 0.8, 0.9, 1]),
])
def test_cubic_antialias_and_crop(attrs):
    attrs = dict(attrs)
    scales = attrs.pop("scales", [1, 1, 2, 1.5, 0.5])
    model = resize.build([1, 2, 4, 6, 5], scales=scales, **attrs)
    assert_same_as_original(model, lowered(model))


@pytest.mark.parametrize("opset", [10, 11, 13, 18, 19])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_every_opset_form(opset, mode):
    model = resize.build([2, 3, 3, 4, 5], scales=[1, 1, 2, 3, 2], mode=mode, opset=opset)
    assert_same_as_original(model, lowered(model))


@pytest.mark.parametrize("kwargs", [
    dict(sizes=[1, 2, 7, 5, 9], mode="linear"), dict(sizes=[7, 5, 9], axes=[2, 3, 4], mode="cubic"),
    dict(scales=[2, 3], axes=[4, 2], mode="linear"), dict(sizes=[9], axes=[3], mode="nearest"),
    dict(sizes=[8, 12, 10], axes=[2, 3, 4], keep_aspect_ratio_policy="not_larger"),
    dict(sizes=[8, 9, 5], axes=[2, 3, 4], keep_aspect_ratio_policy="not_smaller", mode="linear"),
])
def test_sizes_axes_and_aspect_ratio(kwargs):
    model = resize.build([1, 2, 4, 6, 5], **kwargs)
    assert_same_as_original(model, lowered(model))


def test_an_aspect_ratio_that_rounds_a_size_up_is_left_with_its_reason():
    model = resize.build([1, 2, 4, 6, 5], sizes=[6, 20, 20], axes=[2, 3, 4], keep_aspect_ratio_policy="not_larger")
    _, report = api.convert_model(model, targets=["no-resize5d"])
    assert report.remaining and "rounds a size up" in report.passes[0].skipped[0][1]


@settings(max_examples=60)
@given(st.sampled_from(["nearest", "linear", "cubic"]), st.sampled_from(COORDINATES),
       st.lists(st.sampled_from([0.5, 0.75, 1, 1.3, 2, 2.5, 3, 4]), min_size=3, max_size=3),
       st.booleans(), st.integers(0, 3))
def test_random_configurations(mode, coordinate, scales, symbolic, dim_seed):
    # symbolic: sizes >= 4, where no scale in the list keeps a length (see the onnxruntime quirk below)
    lengths = [(4 if symbolic else 2) + (dim_seed + i) % 4 for i in range(3)]
    shape = ["N", 2, "D", "H", "W"] if symbolic else [1, 2] + lengths
    model = resize.build(shape, scales=[1, 1, *scales], mode=mode, coordinate_transformation_mode=coordinate)
    out, report = run_pass(model, NAME)
    if report.skipped:          # a stage that keeps its length: onnxruntime would copy it (see the pass)
        assert "keeps the length" in report.skipped[0][1] and not symbolic
        return
    sizes = {"X": (1, 2, *lengths)} if symbolic else None
    assert_same_as_original(model, out, shapes=sizes)
    if symbolic:                                  # no size baked in: other sizes run and agree too
        assert_same_as_original(model, out, runs=2)


def test_symbolic_sizes_and_pytorch_interpolate_size():
    model = resize.interpolate_like()
    out = lowered(model)
    assert_equivalent(model, out, runs=3)


@pytest.mark.parametrize("order", ["up", "down"])
def test_chain_is_rank_four_and_runs_the_small_stage_first(order):
    scales = (2, 4, 4) if order == "up" else (0.5, 0.25, 0.25)
    model = resize.build([1, 2, 8, 8, 8], scales=[1, 1, *scales], mode="linear")
    out = lowered(model, Options(max_rank=4))
    assert chain_ranks(out, [1, 2, 8, 8, 8]) == {4}
    stages = [n for n in out.graph.node if n.op_type == "Resize"]
    first = numpy_helper.to_array({i.name: i for i in out.graph.initializer}[stages[0].input[2]])
    assert list(first) == ([1, 1, 2, 1] if order == "up" else [1, 1, 0.25, 0.25])


def test_a_rank_budget_below_four_is_an_error():
    with pytest.raises(UnsupportedGraph, match="--max-rank 3"):
        run_pass(resize.build([1, 2, 4, 4, 4], scales=[1, 1, 2, 2, 2]), NAME, Options(max_rank=3))


def test_a_stage_onnxruntime_would_copy_is_left_with_its_reason():
    """D: 2 -> 1, H: scale 1.3 keeps length 3; onnxruntime's 4-D Resize returns same-shape output as is."""
    model = resize.build([1, 2, 2, 3, 4], scales=[1, 1, 0.5, 1.3, 1])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "keeps the length of axis (3,)" in report.skipped[0][1]


def test_resizing_channels_is_left_alone():
    model = resize.build([1, 2, 4, 4, 4], scales=[1, 2, 2, 2, 2])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "batch or channel" in report.skipped[0][1]


def test_four_dimensional_resizes_are_not_its_business():
    model = resize.build([1, 2, 4, 4], scales=[1, 1, 2, 2])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and not report.skipped


def _lift_axis(a: int) -> list[int]:
    """A 4-D axis -> its 5-D axes: H (2) becomes D and H (2, 3), W moves to 4."""
    return [a] if a < 2 else ([2, 3] if a == 2 else [a + 1])


def _lift(values, kind: str, axes=None):
    """4-D per-axis values -> 5-D, D taking H's value (axes given: only the listed ones)."""
    values = list(np.ravel(values))
    if kind == "roi":
        half = len(values) // 2
        return _lift(values[:half], "axis", axes) + _lift(values[half:], "axis", axes)
    return [v for a, v in zip(axes or range(4), values) for _ in _lift_axis(a)]


def node_resize_cases():
    return [pytest.param(c, id=c.name) for c in onnx_node_cases("test_resize")]


@pytest.mark.parametrize("case", node_resize_cases())
def test_onnx_node_tests_lifted_to_5d(case):
    """Each 4-D test_resize* case with a depth axis added that takes H's parameters; the lifted original
    (onnxruntime, or onnx's reference where onnxruntime lacks the kernel) against the 4-D chain."""
    node = case.model.graph.node[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    inputs, _ = case.data_sets[0]
    feeds = dict(zip([i.name for i in case.model.graph.input], inputs))
    x4 = feeds["X"]
    axes = attrs.pop("axes", None)
    lifted_axes = None if axes is None else [b for a in axes for b in _lift_axis(a)]
    kw = {k: _lift(feeds[k], k if k == "roi" else "axis", axes) for k in ("roi", "scales", "sizes") if k in feeds}
    shape = list(x4.shape[:3]) + [x4.shape[2]] + [x4.shape[3]]
    model = resize.build(shape, axes=lifted_axes, **kw, **attrs)
    if "keep_aspect_ratio_policy" in attrs:
        out, report = api.convert_model(model, targets=["no-resize5d"])
        if report.remaining:              # a size that rounds up: left in place, said why
            assert "rounds a size up" in report.passes[0].skipped[0][1]
            return
    else:
        out = lowered(model)
    assert_same_as_original(model, out)
