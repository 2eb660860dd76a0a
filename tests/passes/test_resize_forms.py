"""The Resize forms runtimes are picky about: nearest repeats in asymmetric + floor form, and
keep_aspect_ratio_policy as plain scales; exact where they apply, left with a reason where not."""
import math

import pytest

from onnxport.models import resize
from tests.helpers import assert_equivalent, assert_structurally_valid, run_pass

COORDINATES = ["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners", "half_pixel_symmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


def _attrs(model):
    return {a.name: a.s.decode() for a in model.graph.node[0].attribute if a.s}


@pytest.mark.parametrize("coordinate", COORDINATES)
@pytest.mark.parametrize("nearest", NEAREST)
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 4, 1]])
def test_nearest_repeats_become_asymmetric_floor_exactly(coordinate, nearest, scales):
    model = resize.build(["N", 2, "H", "W"], scales=scales, mode="nearest", coordinate_transformation_mode=coordinate,
                         nearest_mode=nearest)
    out, report = run_pass(model, "nearest-repeat-to-asymmetric-floor")
    canonical = (coordinate, nearest) == ("asymmetric", "floor")
    assert bool(report.applied) == (_repeats(coordinate, nearest, scales) and not canonical)
    if report.applied:
        assert _attrs(out)["coordinate_transformation_mode"] == "asymmetric" and _attrs(out)["nearest_mode"] == "floor"
        assert_structurally_valid(out, model)
        assert_equivalent(model, out, shapes={"X": (2, 2, 3, 5)}, runs=1)
    elif not canonical:
        assert "does not repeat each sample" in report.skipped[0][1] or coordinate == "align_corners"


def _repeats(coordinate, nearest, scales):
    """From the definition: output s*i + r reads input i for every r < s (align_corners depends on the size)."""
    if coordinate == "align_corners":
        return False
    for s in {int(v) for v in scales} - {1}:
        for r in range(s):
            x = r / s if coordinate == "asymmetric" else (r + 0.5) / s - 0.5
            frac = x - math.floor(x)
            rounded = {"floor": math.floor(x), "ceil": math.ceil(x),
                       "round_prefer_floor": math.ceil(x - 0.5) if frac == 0.5 else round(x),
                       "round_prefer_ceil": math.floor(x + 0.5)}[nearest]
            if rounded != 0:
                return False
    return True


def test_linear_and_fractional_resizes_are_not_its_business():
    _, report = run_pass(resize.build([1, 2, 4, 4], scales=[1, 1, 2, 2], mode="linear"),
                         "nearest-repeat-to-asymmetric-floor")
    assert report.applied == 0
    _, report = run_pass(resize.build([1, 2, 4, 4], scales=[1, 1, 1.5, 2], mode="nearest"),
                         "nearest-repeat-to-asymmetric-floor")
    assert report.applied == 0


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
@pytest.mark.parametrize("mode, sizes, axes", [
    ("nearest", [1, 2, 12, 12], None), ("nearest", [1, 2, 3, 16], None),     # every axis, N and C included
    ("linear", [12, 12], [2, 3]), ("linear", [3, 16], [2, 3]), ("cubic", [12, 12], [2, 3]), ("cubic", [5, 7], [2, 3]),
])
def test_aspect_ratio_policy_becomes_plain_scales(policy, mode, sizes, axes):
    model = resize.build([1, 2, 6, 8], sizes=sizes, axes=axes, mode=mode, keep_aspect_ratio_policy=policy)
    out, report = run_pass(model, "resize-aspect-ratio-to-scales")
    if not report.applied:
        assert "round" in report.skipped[0][1]        # the policy's half-up rounding differs from floor
        return
    assert "keep_aspect_ratio_policy" not in _attrs(out)
    assert_structurally_valid(out, model)
    assert_equivalent(model, out, runs=1)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 1, 4]])
def test_half_pixel_symmetric_with_integer_scales_is_half_pixel(mode, scales):
    model = resize.build(["N", 2, "H", "W"], scales=scales, mode=mode,
                         coordinate_transformation_mode="half_pixel_symmetric")
    out, report = run_pass(model, "resize-symmetric-to-half-pixel")
    assert report.applied == 1 and _attrs(out)["coordinate_transformation_mode"] == "half_pixel"
    for sizes in [(1, 2, 3, 5), (2, 2, 7, 2)]:
        assert_equivalent(model, out, shapes={"X": sizes}, runs=1)


def test_half_pixel_symmetric_downscales_are_left_with_a_reason():
    model = resize.build([1, 2, 6, 9], scales=[1, 1, 0.5, 1.5], mode="linear",
                         coordinate_transformation_mode="half_pixel_symmetric")
    _, report = run_pass(model, "resize-symmetric-to-half-pixel")
    assert report.applied == 0 and "integer scales" in report.skipped[0][1]
