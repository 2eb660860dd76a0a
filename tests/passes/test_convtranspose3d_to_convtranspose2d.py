"""convtranspose3d-to-convtranspose2d: two 2-D ConvTransposes, exact on every 3-D configuration."""
import pytest
from hypothesis import given, settings, strategies as st

from onnxport.models import convtranspose
from onnxport.passes._registry import Options
from tests.helpers import count_ops, run_pass
from tests.passes.convtranspose_cases import (GRID, assert_rank_at_most, check_lowering, check_node_test,
                                              check_random_model, node_test_cases, random_models)

NAME = "convtranspose3d-to-convtranspose2d"
GRID_3D = sorted(k for k, v in GRID.items() if len(v["spatial"]) == 3)


@pytest.mark.parametrize("case", GRID_3D)
def test_lowers_equivalently(case):
    out = check_lowering(convtranspose.build(**GRID[case]), NAME, removed_rank=3)
    assert count_ops(out, "ConvTranspose", spatial_rank=2) == 2


@settings(max_examples=80)
@given(random_models(spatial_ranks=(3,)), st.integers(0, 1000))
def test_random_configurations_are_exact(case, seed):
    check_random_model(case, seed, NAME, removed_rank=3)


@pytest.mark.parametrize("case, constant_weights",
                         [c for c in node_test_cases() if c.values[0].name == "test_convtranspose_3d"])
def test_onnx_backend_node_tests(case, constant_weights):
    out = check_node_test(case, constant_weights, NAME)
    assert count_ops(out, "ConvTranspose", spatial_rank=3) == 0


def test_two_dimensional_convtransposes_are_not_its_business():
    model = convtranspose.build(["H", "W"], kernel=[3, 3], strides=[2, 2])
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "3-D ConvTransposes only" in report.skipped[0][1]


def test_every_new_tensor_fits_rank_five():
    model = convtranspose.build(["D", "H", "W"], cin=4, cout=4, group=2, kernel=[3, 3, 3], strides=[2, 2, 2])
    out = check_lowering(model, NAME, removed_rank=3, options=Options(max_rank=5))
    assert_rank_at_most(out, 5, {"X": (1, 4, 3, 4, 5)})
