"""conv-upsample-to-convtranspose: 1x1 Conv + nearest repeat folds into kernel == stride."""
import pytest

from onnxport.models import exporter_patterns
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, run_pass

NAME = "conv-upsample-to-convtranspose"


@pytest.mark.parametrize("kwargs", [dict(), dict(weights="constant"), dict(weights="cast"), dict(scales=(2, 3, 1)),
                                    dict(cin=4, cout=6, group=2), dict(spatial=("H", "W"), scales=(4, 2))])
def test_folds_exactly(kwargs):
    model = exporter_patterns.conv_upsample(**kwargs)
    out, report = run_pass(model, NAME)
    assert report.applied == 1
    assert [n.op_type for n in out.graph.node] == ["ConvTranspose", "Relu"]
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=2)


def test_a_resize_that_does_not_repeat_stays():
    model = exporter_patterns.conv_upsample(coordinate="align_corners", nearest="floor")
    out, report = run_pass(model, NAME)
    assert report.applied == 0 and count_ops(out, "Resize") == 1
