"""Every pass declares its postconditions (Pass.ensures); each one flags the form its pass removes and
passes what the pass writes instead."""
import onnx_graphsurgeon as gs
import numpy as np
import pytest

import onnxport.passes  # noqa: F401  (registers every pass)
from onnxport.passes import _registry


def node(op, attrs=None, weight_dims=None, input_rank=None, inputs=1):
    x = gs.Variable("x", np.float32, [1] * input_rank if input_rank else None)
    extra = [gs.Constant("w", np.zeros(weight_dims, np.float32))] if weight_dims else []
    extra += [gs.Variable(f"i{k}", np.float32) for k in range(max(0, inputs - 1 - len(extra)))]
    return gs.Node(op, "n", attrs or {}, [x] + extra, [gs.Variable("y", np.float32)])


# pass -> (a node its ensures must flag, a node they must let through)
CASES = {
    "conv3d-to-conv2d": (node("Conv", weight_dims=[1, 1, 3, 3, 3]), node("Conv", weight_dims=[1, 1, 3, 3])),
    "conv-same-to-pads": (node("Conv", {"auto_pad": "SAME_UPPER"}), node("Conv", {"pads": [1, 1, 1, 1]})),
    "conv-upsample-to-convtranspose": (node("Resize"), node("ConvTranspose", weight_dims=[1, 1, 2, 2])),
    "convtranspose3d-to-convtranspose2d": (node("ConvTranspose", weight_dims=[1, 1, 2, 2, 2]),
                                           node("ConvTranspose", weight_dims=[1, 1, 2, 2])),
    "convtranspose-to-resize-conv": (node("ConvTranspose", weight_dims=[1, 1, 2, 2]), node("Conv")),
    "convtranspose-to-subpixel": (node("ConvTranspose", weight_dims=[1, 1, 2]), node("Transpose")),
    "explicit-attributes": (node("Resize"), node("Resize", {"mode": "nearest"})),
    "fold-convtranspose-bias": (node("Add"), node("ConvTranspose", weight_dims=[1, 1, 2, 2])),
    "fold-batchnorm": (node("BatchNormalization"), node("Conv", weight_dims=[1, 1, 2, 2])),
    "fold-convtranspose-crop": (node("Slice"), node("ConvTranspose", weight_dims=[1, 1, 2, 2])),
    "fold-shape-computations": (node("Shape"), node("Constant")),
    "flatten-to-reshape": (node("Flatten"), node("Reshape", inputs=2)),
    "gelu-scale-last": (None, node("Mul", inputs=2)),         # the pattern itself: tests/passes/test_gelu_scale_last.py
    "gemm-head-to-conv": (node("Gemm"), node("Conv")),
    "global-pool3d-to-pool2d": (node("GlobalAveragePool", input_rank=5), node("GlobalAveragePool", input_rank=4)),
    "nearest-repeat-to-asymmetric-floor": (node("Resize", {"mode": "nearest"}),
                                           node("Resize", {"mode": "nearest", "coordinate_transformation_mode":
                                                           "asymmetric", "nearest_mode": "floor"})),
    "normalize-convtranspose-padding": (node("ConvTranspose", {"auto_pad": "SAME_UPPER"}, [1, 1, 2, 2]),
                                        node("ConvTranspose", {"pads": [0, 0, 1, 1]}, [1, 1, 2, 2])),
    "pad-to-concat": (node("Pad", inputs=2), node("Concat", inputs=3)),
    "pool3d-to-pool2d": (node("MaxPool", {"kernel_shape": [2, 2, 2]}), node("MaxPool", {"kernel_shape": [2, 2]})),
    "reshape-allowzero-off": (node("Reshape", {"allowzero": 1}), node("Reshape")),
    "resize5d-to-resize4d": (node("Resize", input_rank=5), node("Resize", input_rank=4)),
    "resize-aspect-ratio-to-scales": (node("Resize", {"keep_aspect_ratio_policy": "not_larger"}), node("Resize")),
    "resize-sizes-to-scales": (node("Resize", inputs=4), node("Resize", inputs=3)),
    "resize-symmetric-to-half-pixel": (node("Resize", {"coordinate_transformation_mode": "half_pixel_symmetric"}),
                                       node("Resize", {"coordinate_transformation_mode": "half_pixel"})),
    "strided-to-dense": (node("Conv", {"strides": [2, 2]}), node("Conv", {"strides": [1, 1], "dilations": [2, 2]})),
    "upsample-conv-to-convtranspose": (node("Conv"), node("ConvTranspose", weight_dims=[1, 1, 2, 2])),
}


def test_every_pass_declares_its_postconditions():
    for p in _registry.all_passes():
        assert isinstance(p.ensures, tuple), p.name
        assert p.ensures or p.name in {"free-baked-sizes", "fuse-lowered", "pad-inputs-to-valid",
                                       "resize4d-chain-to-resize5d"}, f"{p.name} ensures nothing"
    assert {p.name for p in _registry.all_passes() if p.ensures} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_postcondition_flags_what_its_pass_removes_and_passes_what_it_writes(name):
    broken, fine = CASES[name]
    ensures = _registry.get(name).ensures
    if broken is not None:
        assert any(e(broken) for e in ensures), name
    assert not any(e(fine) for e in ensures), name


def test_each_pass_gets_only_the_settings_it_declares():
    """The step's Options carry every setting; a pass's match sees its own settings class, built from the
    fields that class declares (RankBudget for lowerings, Recipes, ExportedShapes, PadToValid, or none)."""
    from onnxport.passes._registry import NoSettings, Options, RankBudget, settings_for
    options = Options(max_rank=4, spatial_ranks=frozenset({3}), recipes=({"y": "t"},), pad_mode="edge")
    subpixel = settings_for(_registry.get("convtranspose-to-subpixel"), options)
    assert subpixel == RankBudget(spatial_ranks=frozenset({3}), max_rank=4)
    assert settings_for(_registry.get("fuse-lowered"), options).recipes == ({"y": "t"},)
    assert settings_for(_registry.get("pad-inputs-to-valid"), options).pad_mode == "edge"
    assert settings_for(_registry.get("explicit-attributes"), options) == NoSettings()
    for p in _registry.all_passes():
        assert not hasattr(settings_for(p, options), "nodes")        # the scope is the driver's, not a pass's
