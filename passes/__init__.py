"""Graph rewrites, one per module; importing this package registers them all (see passes._registry).

The names below are what converter/ may use of passes/ (the underscored modules are private to it):
running passes (Options, PassReport, all_passes, get_pass, apply_pass, all_graphs, and who wrote which
node: writers, origin), reading graphs as the passes do (constant_value, constant_shape, text_attr,
weight_shape, resolve_convtranspose, resize_spec, image_size_home, evaluate_shape), the view and
broadcasting facts the size analysis shares with the rewrites (BROADCASTING, SHAPE_PRESERVING, UNARY,
inner_strides, place_in_view, resolve_reshape_target, Atom, propagate_symbolic_dims), and the node
predicates targets are made of (the `conditions` module).
"""
from onnxport.passes import (  # noqa: F401  (importing registers them)
    conv3d_to_conv2d,
    conv_same_to_pads,
    conv_upsample_to_convtranspose,
    convtranspose3d_to_convtranspose2d,
    convtranspose_to_resize_conv,
    convtranspose_to_subpixel,
    explicit_attributes,
    fold_batchnorm,
    fold_convtranspose_bias,
    fold_convtranspose_crop,
    fold_shape_computations,
    flatten_to_reshape,
    free_baked_sizes,
    fuse_lowered,
    gelu_scale_last,
    gemm_head_to_conv,
    global_pool3d_to_pool2d,
    nearest_repeat_to_asymmetric_floor,
    normalize_convtranspose_padding,
    pad_inputs_to_valid,
    pad_to_concat,
    pool3d_to_pool2d,
    resize4d_chain_to_resize5d,
    resize5d_to_resize4d,
    resize_aspect_ratio_to_scales,
    resize_sizes_to_scales,
    reshape_allowzero_off,
    resize_symmetric_to_half_pixel,
    strided_to_dense,
    upsample_conv_to_convtranspose,
)
from onnxport.passes._convtranspose import resolve as resolve_convtranspose  # noqa: E402
from onnxport.passes._driver import PassReport, all_graphs, apply as apply_pass, origin, writers  # noqa: E402
from onnxport.passes._graph import constant_shape, constant_value, text_attr, weight_shape  # noqa: E402
from onnxport.passes._ops import BROADCASTING, SHAPE_PRESERVING, UNARY  # noqa: E402
from onnxport.passes._registry import Options, all_passes, get as get_pass  # noqa: E402
from onnxport.passes._reshape import (inner_strides, place as place_in_view,  # noqa: E402
                                      resolve_target as resolve_reshape_target)
from onnxport.passes._resize import image_size_home, resize_spec  # noqa: E402
from onnxport.passes._shape_eval import evaluate as evaluate_shape  # noqa: E402
from onnxport.passes._symbolic_dims import Atom, propagate as propagate_symbolic_dims  # noqa: E402
