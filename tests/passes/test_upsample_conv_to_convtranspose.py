"""upsample-conv-to-convtranspose: nearest repeat + Conv folds exactly; look-alikes stay."""
import pytest

from onnxport.converter import api
from onnxport.models import exporter_patterns
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, run_pass

NAME = "upsample-conv-to-convtranspose"


@pytest.mark.parametrize("kwargs", [
    dict(),                                                             # PyTorch nn.Upsample + Conv3d k3 p1
    dict(weights="constant"), dict(weights="identity"), dict(weights="cast"),
    dict(coordinate="half_pixel", nearest="round_prefer_floor"),        # the ONNX defaults
    dict(coordinate="pytorch_half_pixel", nearest="round_prefer_ceil"),
    dict(coordinate="tf_half_pixel_for_nn", nearest="floor"),
    dict(scales=(2, 1, 3), kernel=(3, 1, 5), pads=(1, 0, 2, 0, 0, 1)),
    dict(kernel=1, pads=0), dict(kernel=5, pads=2, bias=False),
    dict(kernel=4, pads="SAME_UPPER"), dict(kernel=(2, 3, 4), pads="SAME_LOWER"),     # even kernels: the two differ
    dict(cin=4, cout=6, group=2), dict(spatial=("H", "W"), scales=(2, 2)), dict(spatial=(5, 6, 7), scales=(3, 3, 3)),
])
def test_folds_exactly(kwargs):
    model = exporter_patterns.upsample_conv(**kwargs)
    out, report = run_pass(model, NAME)
    assert report.applied == 1, report.skipped
    assert count_ops(out, "Resize") == 0 and count_ops(out, "Conv") == 0 and count_ops(out, "ConvTranspose") == 1
    assert_structurally_valid(out, like=model)
    assert_equivalent(model, out, runs=2)


@pytest.mark.parametrize("kwargs, reason", [
    (dict(mode="linear"), "not nearest"),
    (dict(coordinate="half_pixel", nearest="floor"), "does not repeat"),
    (dict(coordinate="align_corners", nearest="round_prefer_floor"), "does not repeat"),
    (dict(scales=(1.5, 2, 2)), "not all integers"),
    (dict(kernel=3, pads=(1, 1, 3, 1, 1, 1)), "exceed kernel-1"),
])
def test_look_alikes_are_left_alone_with_the_reason(kwargs, reason):
    model = exporter_patterns.upsample_conv(**kwargs)
    out, report = run_pass(model, NAME)
    assert report.applied == 0 and reason in report.skipped[0][1]
    assert count_ops(out, "Resize") == 1


def test_a_resize_with_another_consumer_stays():
    model = exporter_patterns.upsample_conv()
    resized = model.graph.node[0].output[0]
    model.graph.output.append(model.graph.output[0].__class__(name=resized))
    model.graph.output[-1].CopyFrom(model.graph.output[0])
    model.graph.output[-1].name = resized
    model.graph.output[-1].type.tensor_type.ClearField("shape")
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "used elsewhere" in report.skipped[0][1]


def test_fused_then_lowered_to_subpixel_saves_macs():
    """nearest x2 + 3x3x3 Conv: 27 MACs per output voxel and channel pair; fused and sub-pixel: 8."""
    model = exporter_patterns.upsample_conv(cin=8, cout=8)
    size = {"X": (1, 8, 32, 32, 32)}
    out, report = api.convert_model(model, fuse=True, targets=["no-convtranspose3d"], macs_at=size)
    assert count_ops(out, "ConvTranspose") == 0 and count_ops(out, "Resize") == 0
    assert report.macs_before / report.macs_after > 3.0       # 27/8 = 3.4, less the sub-pixel's border rows
    assert_equivalent(model, out, shapes=size, runs=1)
